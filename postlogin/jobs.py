"""The built-in post-login work. Each function is safe to run more than once."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from .avatars import fetch_avatar_image, store_avatar
from .conf import postlogin_settings
from .models import Profile

logger = logging.getLogger(__name__)


def fetch_avatar(user_id: Any, avatar_url: str) -> bool:
    """Download, normalise and store the user's avatar. Returns True if a new one was stored.

    Running it again with the same URL does nothing once the picture is stored.
    """
    profile = Profile.for_user_id(user_id)
    if profile.avatar and profile.avatar_source_url == avatar_url:
        return False
    image = fetch_avatar_image(avatar_url)
    return store_avatar(profile, image, avatar_url)


def send_welcome_email(user_id: Any) -> bool:
    """Send the welcome email once per user. Returns True if this call sent it.

    The send is claimed with one conditional UPDATE (``welcomed_at`` from NULL to now), so
    concurrent or repeated deliveries cannot both send. A failed send releases the claim,
    so a retry can send it.
    """
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None:
        logger.warning("postlogin: welcome email skipped, user %s does not exist", user_id)
        return False
    email = getattr(user, user.get_email_field_name(), "")
    if not email:
        logger.info("postlogin: welcome email skipped, user %s has no email address", user_id)
        return False
    Profile.for_user_id(user_id)
    claimed_at = timezone.now()
    claimed = Profile.objects.filter(user_id=user_id, welcomed_at__isnull=True).update(
        welcomed_at=claimed_at
    )
    if not claimed:
        return False
    try:
        welcome_message(user, email).send()
    except BaseException:
        Profile.objects.filter(user_id=user_id, welcomed_at=claimed_at).update(welcomed_at=None)
        raise
    return True


def welcome_message(user: Any, email: str) -> EmailMultiAlternatives:
    """The welcome email, rendered from ``<WELCOME_EMAIL_TEMPLATE>{_subject.txt,.txt,.html}``."""
    prefix = postlogin_settings.WELCOME_EMAIL_TEMPLATE
    context = {"user": user}
    subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{prefix}.txt", context),
        from_email=postlogin_settings.WELCOME_EMAIL_FROM,
        to=[email],
    )
    message.attach_alternative(render_to_string(f"{prefix}.html", context), "text/html")
    return message
