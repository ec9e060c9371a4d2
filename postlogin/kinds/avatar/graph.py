"""The Microsoft Graph profile photo: Microsoft gives no picture URL, only the photo's bytes at
``/me/photo/$value`` to a holder of the user's access token.

The token is read here, in the worker, from social-auth's stored ``UserSocialAuth.extra_data``
or django-allauth's ``SocialToken``; it never enters a job's payload and never crosses the
broker.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.apps import apps

from ...avatars import AvatarRejected, fetch_avatar_image
from ...tokens import access_token_for

#: Where the photo is: the largest size the user has (up to 648x648 pixels).
PHOTO_URL = "https://graph.microsoft.com/v1.0/me/photo/$value"
SOURCE = "microsoft-graph"


def stored_access_token(user_id: int, backend_names: Iterable[str]) -> str | None:
    """The user's latest Microsoft access token: social-auth's, else allauth's unexpired one."""
    return _social_auth_token(user_id, backend_names) or access_token_for(user_id, "microsoft")


def _social_auth_token(user_id: int, backend_names: Iterable[str]) -> str | None:
    if not apps.is_installed("social_django"):
        return None
    from social_django.models import UserSocialAuth

    social = (
        UserSocialAuth.objects.filter(user_id=user_id, provider__in=list(backend_names))
        .order_by("-modified")
        .first()
    )
    token = social.extra_data.get("access_token") if social else None
    return token if isinstance(token, str) and token else None


def fetch_photo(user_id: int, backend_names: Iterable[str]) -> bytes:
    """The user's Graph photo, normalised like any avatar.

    Raises :class:`~postlogin.avatars.AvatarRejected` with reason ``no_photo`` when the user has
    none (Graph answers 404), ``no_access_token`` when no token is stored.
    """
    token = stored_access_token(user_id, backend_names)
    if token is None:
        raise AvatarRejected(
            "no_access_token",
            "no stored Microsoft access token (social-auth's extra_data, allauth's SocialToken)",
        )
    try:
        return fetch_avatar_image(PHOTO_URL, headers={"Authorization": f"Bearer {token}"})
    except AvatarRejected as exc:
        if exc.status == 404:
            raise AvatarRejected("no_photo", "the user has no photo in Microsoft Graph") from exc
        raise
