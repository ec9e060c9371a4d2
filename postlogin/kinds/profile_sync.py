"""Profile re-sync with stored tokens: the ``profile_sync`` job kind.

``postlogin.tasks.resync_stale`` (run it from beat) records a ``profile_sync`` job for each
social account whose profile was last synced more than ``RESYNC_AFTER`` seconds ago, in batches
of ``RESYNC_BATCH_SIZE``: social-auth's ``UserSocialAuth`` rows and django-allauth's
``SocialAccount`` rows that have a stored token, whichever of the two is installed. The job asks
the provider's user-info endpoint with the stored access token, through the login library's own
code for that provider (:mod:`postlogin.social.sync`, :mod:`postlogin.allauth.sync`), which
refresh an expired token first. It stores the name and email, and a changed picture URL becomes
an avatar job. A token the provider refuses (revoked, or a refresh that fails) marks the profile
``needs_login`` (``tokens_refused_at``) instead of retrying for ever, until the user's next login.

An account is not picked again while its user has a sync job waiting or running, or one
recorded within the last ``RESYNC_AFTER`` seconds, whatever became of it: an account the
provider cannot sync (no user-info endpoint, a job that failed) waits its turn like the others
instead of filling every batch, and a backed-up queue does not collect a second sync per user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from ..accounts import TokensRefused, installed_sources, source
from ..conf import postlogin_settings
from ..enqueue import enqueue
from ..events import LoginEvent, ProviderProfile
from ..jobs import JobKind, PermanentJobError
from ..models import Job, Profile
from ..scrub import describe, get_logger, secrets_or_none
from . import AVATAR, PROFILE_SYNC, avatar

logger = get_logger(__name__)


@dataclass(frozen=True)
class DueAccount:
    """A linked account whose profile sync is due."""

    user_id: int
    source: str
    account_id: int
    provider: str
    last_synced: datetime | None


def _never_planned(event: LoginEvent) -> None:
    """profile_sync jobs come from resync_stale, never from a login."""
    return None


def stale_accounts(limit: int) -> list[DueAccount]:
    """Up to ``limit`` accounts whose profile sync is due, the least recently synced first."""
    cutoff = timezone.now() - timedelta(seconds=postlogin_settings.RESYNC_AFTER)
    due = (
        Q(user__postlogin_profile__isnull=True)
        | Q(user__postlogin_profile__synced_at__isnull=True)
        | Q(user__postlogin_profile__synced_at__lt=cutoff)
    )
    refused_since_last_login = _refused_since_last_login()
    unfinished = Q(state__in=[Job.State.PENDING, Job.State.QUEUED, Job.State.RUNNING])
    tried_lately = Job.objects.filter(
        unfinished | Q(created_at__gte=cutoff), user_id=OuterRef("user_id"), kind=PROFILE_SYNC
    )
    found: list[DueAccount] = []
    for name in installed_sources():
        origin = source(name)
        rows = list(
            origin.accounts()
            .filter(due)
            .exclude(refused_since_last_login)
            .exclude(Exists(tried_lately))
            .order_by(F("user__postlogin_profile__synced_at").asc(nulls_first=True), "pk")
            .values_list("user_id", "pk", "provider", "user__postlogin_profile__synced_at")[:limit]
        )
        ids = origin.provider_ids({str(row[2]) for row in rows})
        found += [
            DueAccount(int(user_id), name, int(pk), ids[str(provider)], synced)
            for user_id, pk, provider, synced in rows
        ]
    found.sort(key=lambda account: (account.last_synced is not None, account.last_synced))
    return found[:limit]


def _refused_since_last_login() -> Q:
    """Accounts whose tokens the provider refused, and whose user has not logged in since
    (Django sets ``last_login`` on every login, which brings fresh tokens)."""
    refused = Q(user__postlogin_profile__tokens_refused_at__isnull=False)
    user_fields = {field.name for field in get_user_model()._meta.concrete_fields}
    if "last_login" not in user_fields:
        return refused  # a user model without last_login: no way to tell a later login
    return refused & (
        Q(user__last_login__isnull=True)
        | Q(user__last_login__lte=F("user__postlogin_profile__tokens_refused_at"))
    )


def schedule_stale(limit: int | None = None) -> list[int]:
    """Record (and publish after commit) one profile_sync job per due account."""
    # Keyed on the sync being replaced and the RESYNC_AFTER period: two overlapping runs
    # record one job; a sync that failed is tried again in a later period.
    period = int(timezone.now().timestamp() // postlogin_settings.RESYNC_AFTER)
    return enqueue(
        [
            Job(
                user_id=account.user_id,
                kind=PROFILE_SYNC,
                key=":".join(
                    (
                        account.source,
                        str(account.account_id),
                        account.last_synced.isoformat() if account.last_synced else "never",
                        str(period),
                    )
                ),
                provider=account.provider,
                payload={"source": account.source, "account": account.account_id},
            )
            for account in stale_accounts(limit or postlogin_settings.RESYNC_BATCH_SIZE)
        ]
    )


def sync_profile(job: Job) -> None:
    origin = source(str(job.payload.get("source", "")))
    account_id = job.payload.get("account")
    if not isinstance(account_id, int):
        raise PermanentJobError("the job payload names no account")
    try:
        fresh = origin.fetch_profile(account_id)
    except TokensRefused as exc:
        Profile.objects.update_or_create(
            user_id=job.user_id, defaults={"tokens_refused_at": timezone.now()}
        )
        # The refusal can quote the request's URL, with the token in its query string.
        logger.info(
            "postlogin: %s refused the stored tokens of user %s: %s",
            job.provider,
            job.user_id,
            describe(exc, secrets_or_none(job.user_id)),
        )
        return
    apply_profile(job, fresh)


def apply_profile(job: Job, fresh: ProviderProfile) -> None:
    """Store what the provider reports; a new picture URL becomes an avatar job.

    A name or email the answer leaves out (an OpenID Connect userinfo that carries only
    ``sub``) keeps its last synced value: silence is not a change.
    """
    profile = Profile.for_user_id(job.user_id)
    reported: dict[str, str] = {}
    if fresh.name:
        reported["synced_name"] = fresh.name[:255]
    if fresh.email:
        reported["synced_email"] = fresh.email
    Profile.objects.filter(pk=profile.pk).update(
        synced_at=timezone.now(), tokens_refused_at=None, **reported
    )
    if not fresh.avatar_url or fresh.avatar_url == profile.avatar_source_url:
        return
    event = LoginEvent(user_id=job.user_id, provider=job.provider, is_new=False, profile=fresh)
    spec = avatar.plan_avatar(event)
    if spec is not None:
        enqueue([spec.row(user_id=job.user_id, kind=AVATAR, provider=job.provider)])


def rate_limit_key(job: Job) -> str:
    """The provider's budget (``RATE_LIMITS = {"github": ...}``): a sync calls its API."""
    return job.provider


KIND = JobKind(
    name=PROFILE_SYNC, handler=sync_profile, plan=_never_planned, rate_limit_key=rate_limit_key
)
