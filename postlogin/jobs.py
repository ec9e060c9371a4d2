"""The registry of job kinds, and the built-in ones: ``avatar`` and ``welcome_email``.

A job kind is a handler, ``handler(job) -> None``, plus a planner that decides, for a login
event, whether the kind applies and under which idempotency key::

    from postlogin.jobs import JobSpec, register

    @register("crm_sync", plan=lambda event: JobSpec(key=event.login_id))
    def crm_sync(job):
        ...

A handler raises :class:`PermanentJobError` for failures that retrying cannot fix; any other
exception is retried with backoff until the retry budget is spent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from . import emails, providers
from .conf import postlogin_settings
from .events import LoginEvent
from .models import Job, Profile
from .scrub import get_logger

logger = get_logger(__name__)


class PermanentJobError(Exception):
    """A failure that retrying cannot fix: the job is recorded ``failed`` at once.

    ``code`` is what the user is told (:mod:`postlogin.error_codes`); by default it is derived
    from the exception this one was raised from.
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.error_code = code


class RetryLater(Exception):
    """Run the job again in ``countdown`` seconds (a server's ``Retry-After``, a rate limit).

    With ``counts_as_attempt=False`` the run does not use up the retry budget: the job was not
    tried (it was over a rate limit), it did not fail. ``code``: as for
    :class:`PermanentJobError`.
    """

    def __init__(
        self, countdown: float, reason: str, *, counts_as_attempt: bool = True, code: str = ""
    ) -> None:
        super().__init__(reason)
        self.countdown = max(0.0, countdown)
        self.counts_as_attempt = counts_as_attempt
        self.error_code = code


@dataclass(frozen=True)
class JobSpec:
    """What to record for one kind of work: its idempotency key and plain-data payload."""

    key: str
    payload: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Job], None]
#: Decides, for a login, the jobs of one kind: none, one, or several (one per endpoint...).
Planner = Callable[[LoginEvent], JobSpec | list[JobSpec] | None]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    plan: Planner


#: The key of work done once per user. Its rows are kept when the ledger is pruned: the unique
#: ``(user, kind, key)`` row is what stops the work from being planned again.
ONCE = "once"


def once(event: LoginEvent) -> JobSpec:
    """Planner for work done once per user, whatever the number of logins."""
    return JobSpec(key=ONCE)


def every_login(event: LoginEvent) -> JobSpec:
    """Planner for work done on each login (the default)."""
    return JobSpec(key=event.login_id)


_registry: dict[str, JobKind] = {}


def register(name: str, *, plan: Planner = every_login) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the job kind ``name``; list the name in ``POSTLOGIN`` settings."""
    if not name or len(name) > 64:
        raise ValueError(f"a job kind name must be 1 to 64 characters: {name!r}")

    def decorator(handler: Handler) -> Handler:
        existing = _registry.get(name)
        if existing is not None and existing.handler is not handler:
            raise ValueError(f"job kind {name!r} is already registered by {existing.handler!r}")
        _registry[name] = JobKind(name=name, handler=handler, plan=plan)
        return handler

    return decorator


def get_kind(name: str) -> JobKind | None:
    return _registry.get(name)


def registered_kinds() -> list[str]:
    return sorted(_registry)


def unregister(name: str) -> None:
    """Remove a kind (for tests)."""
    _registry.pop(name, None)


# --- avatar -----------------------------------------------------------------------------------


def plan_avatar(event: LoginEvent) -> JobSpec | None:
    """The picture URL's job (the same URL is the same work), or, for providers that give no
    URL but hold a photo (Microsoft), one fetch per login; nothing otherwise."""
    url = event.profile.avatar_url
    if url:
        digest = hashlib.sha256(url.encode()).hexdigest()[:40]
        return JobSpec(key=f"url:{digest}", payload={"url": url})
    provider = providers.for_id(event.provider)
    if provider is not None and provider.photo_source:
        return JobSpec(
            key=f"{provider.photo_source}:{event.login_id}",
            payload={"source": provider.photo_source},
        )
    return None


@register("avatar", plan=plan_avatar)
def avatar(job: Job) -> None:
    """Download, normalise and store the picture at ``payload["url"]``, or the photo of the
    source named by ``payload["source"]``."""
    from .avatars import AvatarRejected

    try:
        if job.payload.get("source") == "microsoft-graph":
            _graph_avatar(job)
        else:
            _url_avatar(job)
    except AvatarRejected as exc:
        if exc.reason == "no_photo":
            # Not a failure: the user simply has no photo. Nothing to retry or replay.
            logger.info("postlogin: avatar job %s: no photo for user %s", job.pk, job.user_id)
            return
        raise PermanentJobError(str(exc)) from exc


def _url_avatar(job: Job) -> None:
    from .avatars import fetch_avatar_image, store_avatar

    url = job.payload.get("url")
    if not isinstance(url, str) or not url:
        raise PermanentJobError("the job payload has no picture URL")
    profile = Profile.for_user_id(job.user_id)
    if profile.avatar and profile.avatar_source_url == url:
        return
    store_avatar(profile, fetch_avatar_image(url), url)


def _graph_avatar(job: Job) -> None:
    from . import msgraph
    from .avatars import store_avatar

    image = msgraph.fetch_photo(job.user_id)
    store_avatar(Profile.for_user_id(job.user_id), image, msgraph.PHOTO_URL)


# --- welcome email ----------------------------------------------------------------------------


def plan_welcome_email(event: LoginEvent) -> JobSpec:
    """Once per user, with the address the login showed to be verified, if any: the handler
    mails only that address (unless ``WELCOME_EMAIL_UNVERIFIED``)."""
    profile = event.profile
    if profile.email and profile.email_verified:
        return JobSpec(key="once", payload={"verified_email": profile.email})
    return JobSpec(key="once")


@register("welcome_email", plan=plan_welcome_email)
def welcome_email(job: Job) -> None:
    """Send the welcome email, and record it in the same transaction that completes the job."""
    from . import ledger

    profile = Profile.for_user_id(job.user_id)
    if profile.welcomed_at is not None:
        return
    user = get_user_model()._default_manager.get(pk=job.user_id)
    email = getattr(user, user.get_email_field_name(), "")
    if not email:
        logger.info("postlogin: no welcome email for user %s: no email address", job.user_id)
        return
    if not (postlogin_settings.WELCOME_EMAIL_UNVERIFIED or verified_for(job, email)):
        # A provider's unverified address (Microsoft's "mail") can name anybody: mailing it
        # would make the site send its own mail to addresses of a stranger's choosing.
        logger.info(
            "postlogin: no welcome email for user %s: the login did not show the address to be "
            "verified",
            job.user_id,
        )
        return
    # Sent first, recorded right after, together with the job's completion: a worker killed
    # in between (a few milliseconds) makes the re-run send again, with the same Message-ID,
    # which mail providers use to drop the copy.
    welcome_message(user, email, message_id=stable_message_id("welcome", job)).send()
    with transaction.atomic():
        Profile.objects.filter(pk=profile.pk, welcomed_at__isnull=True).update(
            welcomed_at=timezone.now()
        )
        ledger.mark_done(job)


def verified_for(job: Job, email: str) -> bool:
    """Whether the job's login showed ``email`` itself to be verified."""
    verified = job.payload.get("verified_email") if isinstance(job.payload, dict) else None
    return isinstance(verified, str) and emails.same_address(verified, email)


def stable_message_id(name: str, job: Job) -> str:
    """A Message-ID that is the same on every attempt of ``job``."""
    sender = postlogin_settings.WELCOME_EMAIL_FROM or settings.DEFAULT_FROM_EMAIL
    domain = str(sender).rpartition("@")[2].strip("> ") or "localhost"
    return f"<postlogin.{name}.{job.pk}.{job.user_id}@{domain}>"


def welcome_message(
    user: Any, email: str, *, message_id: str | None = None
) -> EmailMultiAlternatives:
    """The welcome email, rendered from ``<WELCOME_EMAIL_TEMPLATE>{_subject.txt,.txt,.html}``."""
    prefix = postlogin_settings.WELCOME_EMAIL_TEMPLATE
    context = {"user": user}
    subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{prefix}.txt", context),
        from_email=postlogin_settings.WELCOME_EMAIL_FROM,
        to=[email],
        headers={"Message-ID": message_id} if message_id else None,
    )
    message.attach_alternative(render_to_string(f"{prefix}.html", context), "text/html")
    return message
