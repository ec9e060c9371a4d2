"""The ``welcome_email`` kind: one email per user, to the address the login showed verified.

Sent first, then recorded (``Profile.welcomed_at``) in the same transaction that marks the job
done: the handler returns the recording as its completion (see :mod:`postlogin.jobs`). A worker
killed in between (a few milliseconds) makes the re-run send again, with the same Message-ID,
which mail providers use to drop the copy.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from .. import emails
from ..conf import postlogin_settings
from ..events import LoginEvent
from ..jobs import ONCE, Completion, JobKind, JobSpec
from ..models import Job, Profile
from ..scrub import get_logger
from . import WELCOME_EMAIL

logger = get_logger(__name__)


def plan_welcome_email(event: LoginEvent) -> JobSpec:
    """Once per user, with the address the login showed to be verified, if any: the handler
    mails only that address (unless ``WELCOME_EMAIL_UNVERIFIED``)."""
    profile = event.profile
    if profile.email and profile.email_verified:
        return JobSpec(key=ONCE, payload={"verified_email": profile.email})
    return JobSpec(key=ONCE)


def welcome_email(job: Job) -> Completion | None:
    """Send the welcome email; its completion records ``welcomed_at`` with the job's."""
    profile = Profile.for_user_id(job.user_id)
    if profile.welcomed_at is not None:
        return None
    user = get_user_model()._default_manager.get(pk=job.user_id)
    email = getattr(user, user.get_email_field_name(), "")
    if not email:
        logger.info("postlogin: no welcome email for user %s: no email address", job.user_id)
        return None
    if not (postlogin_settings.WELCOME_EMAIL_UNVERIFIED or verified_for(job, email)):
        # A provider's unverified address (Microsoft's "mail") can name anybody: mailing it
        # would make the site send its own mail to addresses of a stranger's choosing.
        logger.info(
            "postlogin: no welcome email for user %s: the login did not show the address to be "
            "verified",
            job.user_id,
        )
        return None
    welcome_message(user, email, message_id=stable_message_id("welcome", job)).send()
    return partial(_record_welcomed, profile.pk)


def _record_welcomed(profile_id: int) -> None:
    Profile.objects.filter(pk=profile_id, welcomed_at__isnull=True).update(
        welcomed_at=timezone.now()
    )


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


KIND = JobKind(name=WELCOME_EMAIL, handler=welcome_email, plan=plan_welcome_email)
