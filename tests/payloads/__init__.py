"""Provider payloads as the providers document them, one module per provider.

Each holds what the login library hands over: for social-core, the user data merged with the
token response (the pipeline's ``response``); for allauth, ``SocialAccount.extra_data``.
"""

from .github import GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER
from .google import GOOGLE_TOKEN, GOOGLE_USERINFO
from .oidc import OIDC_USERINFO

__all__ = [
    "GITHUB_EMAILS",
    "GITHUB_TOKEN",
    "GITHUB_USER",
    "GOOGLE_TOKEN",
    "GOOGLE_USERINFO",
    "OIDC_USERINFO",
]
