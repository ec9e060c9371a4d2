"""The Microsoft Graph profile photo: Microsoft gives no picture URL, only the photo's bytes at
``/me/photo/$value`` to a holder of the user's access token.

The token is read here, in the worker, from social-auth's stored ``UserSocialAuth.extra_data``
or django-allauth's ``SocialToken``; it never enters a job's payload and never crosses the
broker.
"""

from __future__ import annotations

from ... import providers
from ...avatars import AvatarRejected, fetch_avatar_image
from ...tokens import access_token

#: Where the photo is: the largest size the user has (up to 648x648 pixels).
PHOTO_URL = "https://graph.microsoft.com/v1.0/me/photo/$value"
SOURCE = "microsoft-graph"


def stored_access_token(user_id: int) -> str | None:
    """The user's latest Microsoft access token: social-auth's, else allauth's unexpired one."""
    return access_token(user_id, providers.Microsoft.id)


def fetch_photo(user_id: int) -> bytes:
    """The user's Graph photo, normalised like any avatar.

    Raises :class:`~postlogin.avatars.AvatarRejected` with reason ``no_photo`` when the user has
    none (Graph answers 404), ``no_access_token`` when no token is stored.
    """
    token = stored_access_token(user_id)
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
