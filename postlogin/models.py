"""Per-user post-login state."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
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
    welcomed_at = models.DateTimeField(_("welcome email sent at"), null=True, blank=True)
    synced_at = models.DateTimeField(_("profile synced at"), null=True, blank=True)

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
