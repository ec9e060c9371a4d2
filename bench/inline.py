"""The anti-pattern, for comparison only: the post-login work done inside the login request.

The same work as django-postlogin's ``avatar`` and ``welcome_email`` jobs, with the same
functions (download with timeouts and a size cap, normalise, store; render and send the
email), called from a pipeline step instead of a worker. Failures are caught, as any inline
implementation must, so that a slow or broken avatar host does not fail the login; it still
makes the login wait.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from postlogin import providers
from postlogin.avatars import AvatarRejected, fetch_avatar_image, store_avatar
from postlogin.kinds.welcome_email import welcome_message
from postlogin.models import Profile
from postlogin.net import FetchError

logger = logging.getLogger(__name__)


def fetch_avatar_and_send_welcome_email(
    strategy: Any,
    details: dict[str, Any],
    backend: Any,
    user: Any = None,
    is_new: bool = False,
    *args: Any,
    response: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    if user is None or user.pk is None:
        return None
    provider_profile = providers.for_backend(backend.name).profile(response or {})
    profile = Profile.for_user_id(user.pk)
    url = provider_profile.avatar_url
    if url and not (profile.avatar and profile.avatar_source_url == url):
        try:
            store_avatar(profile, fetch_avatar_image(url), url)
        except (AvatarRejected, FetchError) as exc:
            logger.warning("inline: avatar for user %s not stored: %s", user.pk, exc)
    if is_new and user.email and profile.welcomed_at is None:
        welcome_message(user, user.email).send()
        Profile.objects.filter(pk=profile.pk).update(welcomed_at=timezone.now())
    return None
