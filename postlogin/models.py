"""Per-user post-login state."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


def avatar_upload_to(instance: Profile, filename: str) -> str:
    from .conf import postlogin_settings

    return f"{postlogin_settings.AVATAR_UPLOAD_TO}/{filename}"


class Profile(models.Model):
    """What post-login jobs learned or did for a user, reached as ``user.postlogin_profile``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="postlogin_profile",
    )
    avatar = models.ImageField(_("avatar"), upload_to=avatar_upload_to, blank=True)
    avatar_source_url = models.URLField(_("avatar source URL"), max_length=2048, blank=True)
    phone = models.CharField(_("phone number"), max_length=32, blank=True)
    terms_accepted_at = models.DateTimeField(_("terms accepted at"), null=True, blank=True)
    welcomed_at = models.DateTimeField(_("welcome email sent at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("profile synced at"), null=True, blank=True)
    #: The name and email the provider last reported (refreshed by ``resync_stale``).
    synced_name = models.CharField(_("name at the provider"), max_length=255, blank=True)
    synced_email = models.EmailField(_("email at the provider"), blank=True)
    #: When the provider last refused the stored tokens (revoked, or a refresh that failed):
    #: the profile cannot be synced again until the user logs in after that (``needs_login``).
    tokens_refused_at = models.DateTimeField(_("tokens refused at"), null=True, blank=True)

    class Meta:
        verbose_name = _("post-login profile")
        verbose_name_plural = _("post-login profiles")

    def __str__(self) -> str:
        return f"Profile of user {self.user_id}"

    @classmethod
    def for_user_id(cls, user_id: Any) -> Profile:
        """The user's profile, created on first use (safe against concurrent creation)."""
        profile, _created = cls.objects.get_or_create(user_id=user_id)
        return profile

    @property
    def needs_login(self) -> bool:
        """Whether the provider refused the stored tokens and the user has not logged in since
        (a login brings fresh tokens; Django records it in ``last_login``)."""
        if self.tokens_refused_at is None:
            return False
        last_login = getattr(self.user, "last_login", None)
        return last_login is None or last_login <= self.tokens_refused_at


class Job(models.Model):
    """One piece of post-login work: the ledger row that exists before any message does.

    ``(user, kind, key)`` is unique, so scheduling the same work twice is a no-op. Every state
    change is one conditional UPDATE (see :mod:`postlogin.ledger`).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="postlogin_jobs"
    )
    kind = models.CharField(_("kind"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=128)
    provider = models.CharField(_("provider"), max_length=64, blank=True)
    #: Plain data only (never tokens): what the handler needs besides the user.
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State, default=State.PENDING)
    #: Runs started within the retry budget (``MAX_RETRIES`` + 1); a replay starts it again.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    #: Claims ever made, never reset: the fencing token of the current claim (see ledger).
    #: A database default too, so that the previous version can insert rows while it rolls out.
    claims = models.PositiveIntegerField(_("claims"), db_default=0, editable=False)
    #: The last failure's text, scrubbed of secrets (postlogin.scrub): for staff only.
    last_error = models.TextField(_("last error"), blank=True)
    #: The last failure as a stable code (postlogin.error_codes): what the user is shown.
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    #: While queued: when the message should have been claimed by. While running: when the
    #: claim expires. Past it, the relay publishes the job again.
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    #: Timestamps come from the database's clock, like every time the ledger compares.
    created_at = models.DateTimeField(_("created at"), db_default=Now())
    updated_at = models.DateTimeField(_("updated at"), db_default=Now())
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    #: The insert (a login) that recorded the row, to tell its rows from earlier ones.
    batch = models.UUIDField(_("recorded in batch"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("post-login job")
        verbose_name_plural = _("post-login jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "key"], name="postlogin_job_unique_user_kind_key"
            )
        ]
        indexes = [
            # The relay: pending by age, queued/running by lease.
            models.Index(fields=["state", "updated_at"], name="postlogin_job_state_updated"),
            models.Index(fields=["state", "lease_until"], name="postlogin_job_state_lease"),
            # The admin and the per-user timeline.
            models.Index(fields=["kind", "state"], name="postlogin_job_kind_state"),
            models.Index(fields=["user", "-created_at"], name="postlogin_job_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} for user {self.user_id} ({self.state})"


class RelayMarker(models.Model):
    """A marker message the relay published behind the jobs' messages (see
    :mod:`postlogin.markers`). Queues are first in, first out: once a worker has run the marker
    (``seen_at``), every message published before ``published_at`` was delivered, so a job
    still waiting for one of them lost it. Both times come from the database clock.
    """

    published_at = models.DateTimeField(_("published at"))
    seen_at = models.DateTimeField(_("seen by a worker at"), null=True, blank=True)

    class Meta:
        verbose_name = _("relay marker")
        verbose_name_plural = _("relay markers")

    def __str__(self) -> str:
        return f"relay marker {self.pk} ({'seen' if self.seen_at else 'in the queue'})"
