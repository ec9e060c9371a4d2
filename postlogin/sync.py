"""Profile re-sync with the tokens social-auth stored: the ``profile_sync`` job kind.

``postlogin.tasks.resync_stale`` (run it from beat) records a ``profile_sync`` job for each
account whose profile was last synced more than ``RESYNC_AFTER`` seconds ago, in batches of
``RESYNC_BATCH_SIZE``. The job asks the provider's user-info endpoint through the social-auth
backend (which knows each provider's URLs), with ``UserSocialAuth.get_access_token()``, which
refreshes an expired token first. It stores the name and email, and a changed picture URL
becomes an avatar job. A token the provider refuses (revoked, or a refresh that fails) marks
the profile ``needs_login`` instead of retrying for ever; the next login clears it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from . import providers, ratelimit
from .conf import postlogin_settings
from .events import LoginEvent
from .jobs import PermanentJobError, RetryLater, register
from .models import Job, Profile

logger = logging.getLogger(__name__)
KIND = "profile_sync"


def _never_planned(event: LoginEvent) -> None:
    """profile_sync jobs come from resync_stale, never from a login."""
    return None


def stale_accounts(limit: int) -> list[tuple[int, str, str]]:
    """``(user id, backend name, last sync)`` of social accounts whose profile sync is due,
    oldest first (``last sync`` is an ISO time, or ``"never"``)."""
    from social_django.models import UserSocialAuth

    cutoff = timezone.now() - timedelta(seconds=postlogin_settings.RESYNC_AFTER)
    due = (
        Q(user__postlogin_profile__isnull=True)
        | Q(user__postlogin_profile__synced_at__isnull=True)
        | Q(user__postlogin_profile__synced_at__lt=cutoff)
    )
    rows = (
        UserSocialAuth.objects.filter(due)
        .exclude(user__postlogin_profile__needs_login=True)
        .order_by("user__postlogin_profile__synced_at", "pk")
        .values_list("user_id", "provider", "user__postlogin_profile__synced_at")[:limit]
    )
    return [
        (int(user_id), str(provider), synced.isoformat() if synced else "never")
        for user_id, provider, synced in rows
    ]


def schedule_stale(limit: int | None = None) -> list[int]:
    """Record (and publish after commit) one profile_sync job per due account."""
    from .dispatch import publish_after_commit

    # Keyed on the sync being replaced: two overlapping runs record one job, and the next
    # sync, once this one moved synced_at, is new work.
    due = stale_accounts(limit or postlogin_settings.RESYNC_BATCH_SIZE)
    jobs = [
        Job(
            user_id=user_id,
            kind=KIND,
            key=f"{backend}:{last_sync}",
            provider=providers.provider_id(providers.for_backend(backend), backend),
            payload={"backend": backend},
        )
        for user_id, backend, last_sync in due
    ]
    Job.objects.bulk_create(jobs, ignore_conflicts=True)
    same_work = Q(pk__in=[])
    for job in jobs:
        same_work |= Q(user_id=job.user_id, key=job.key)
    ids = list(
        Job.objects.filter(same_work, kind=KIND, state=Job.State.PENDING).values_list(
            "pk", flat=True
        )
    )
    publish_after_commit(ids)
    return ids


def _refused(exc: Exception) -> bool:
    """Is this the provider saying the stored credentials are no good (not a passing fault)?"""
    from social_core.exceptions import AuthCredentialError

    status = getattr(exc, "status_code", None)
    return isinstance(exc, AuthCredentialError) or status in (400, 401, 403)


@register(KIND, plan=_never_planned)
def sync_profile(job: Job) -> None:
    from social_core.exceptions import SocialAuthBaseException
    from social_django.models import UserSocialAuth
    from social_django.utils import load_strategy

    backend_name = str(job.payload.get("backend", ""))
    social = UserSocialAuth.objects.filter(user_id=job.user_id, provider=backend_name).first()
    if social is None:
        raise PermanentJobError(f"user {job.user_id} has no {backend_name} account any more")
    wait = ratelimit.acquire(job.provider)
    if wait:
        raise RetryLater(wait, f"rate limited: {job.provider}", counts_as_attempt=False)
    strategy = load_strategy()  # type: ignore[no-untyped-call]
    backend: Any = social.get_backend_instance(strategy)
    if backend is None:
        raise PermanentJobError(f"the {backend_name} backend is not enabled")
    if hasattr(backend, "validate_userinfo_sub"):
        # OpenID Connect checks that the user info belongs to the ID token's subject; outside
        # a login there is no ID token, but the stored uid is that subject.
        backend.id_token = {"sub": social.uid}
    try:
        data = fetch_user_data(social, backend, strategy)
    except SocialAuthBaseException as exc:
        if _refused(exc):
            Profile.objects.update_or_create(user_id=job.user_id, defaults={"needs_login": True})
            logger.info(
                "postlogin: %s refused the stored tokens of user %s", backend_name, job.user_id
            )
            return
        retry_after = getattr(exc, "retry_after", None)
        if retry_after and str(retry_after).isdigit():
            raise RetryLater(float(retry_after), f"{backend_name}: {exc}") from exc
        raise
    apply_profile(job, backend_name, data)


def fetch_user_data(social: Any, backend: Any, strategy: Any) -> Any:
    """The provider's user info with the stored access token (refreshed first when it is known
    to have expired). Many providers do not say when a token expires: a refused token is
    refreshed once, with the stored refresh token, before the refusal counts."""
    from social_core.exceptions import SocialAuthBaseException

    token = social.get_access_token(strategy)
    try:
        return backend.user_data(token) or {}
    except SocialAuthBaseException as exc:
        if not (_refused(exc) and backend.get_refresh_token(social.extra_data)):
            raise
    social.refresh_token(strategy)
    return backend.user_data(social.access_token) or {}


def apply_profile(job: Job, backend_name: str, data: Any) -> None:
    from .dispatch import publish_after_commit

    fresh = providers.for_backend(backend_name).profile(data)
    profile = Profile.for_user_id(job.user_id)
    Profile.objects.filter(pk=profile.pk).update(
        synced_at=timezone.now(),
        synced_name=(fresh.name or "")[:255],
        synced_email=fresh.email or "",
        needs_login=False,
    )
    if fresh.avatar_url and fresh.avatar_url != profile.avatar_source_url:
        from .jobs import get_kind

        avatar = get_kind("avatar")
        event = LoginEvent(user_id=job.user_id, provider=job.provider, is_new=False, profile=fresh)
        spec = avatar.plan(event) if avatar else None
        if isinstance(spec, list) or spec is None:
            return
        avatar_job, created = Job.objects.get_or_create(
            user_id=job.user_id,
            kind="avatar",
            key=spec.key,
            defaults={"provider": job.provider, "payload": spec.payload},
        )
        if created:
            publish_after_commit([avatar_job.pk])
