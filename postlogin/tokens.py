"""OAuth access tokens for jobs that call a provider's API on the user's behalf.

Tokens never cross the broker: a job carries the user and provider ids, and its handler looks
the token up here when it runs (:func:`access_token`). Mark such handlers with
:func:`needs_access_token` so that the system checks can tell when the project stores no tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from . import accounts
from .deprecation import renamed

Handler = TypeVar("Handler", bound=Callable[..., Any])

_MARK = "postlogin_needs_access_token"

#: Before the facade, this module read allauth's tokens only; those functions live on there.
__getattr__ = renamed(
    __name__,
    {
        "access_token_for": "postlogin.allauth.tokens.access_token",
        "allauth_account_providers": "postlogin.allauth.tokens.account_providers",
    },
)


def needs_access_token(handler: Handler) -> Handler:
    """Mark a job handler that calls the provider with the user's stored access token."""
    setattr(handler, _MARK, True)
    return handler


def handler_needs_access_token(handler: Callable[..., Any]) -> bool:
    return getattr(handler, _MARK, False) is True


def access_token(user_id: Any, provider_id: str) -> str | None:
    """The user's stored access token for ``provider_id`` (postlogin's provider id, as in
    ``Job.provider``), from whichever login library is installed: social-auth's
    ``UserSocialAuth.extra_data`` first, then allauth's unexpired ``SocialToken``
    (``SOCIALACCOUNT_STORE_TOKENS``). None when neither has one.

    The libraries are asked in the order their apps are in ``INSTALLED_APPS`` (``"postlogin"``
    speaks for social-auth and comes before ``"postlogin.allauth"``).
    """
    for name in accounts.installed_sources():
        token = accounts.source(name).access_token(user_id, provider_id)
        if token:
            return token
    return None
