"""Where linked accounts and their stored tokens live, for the ``profile_sync`` kind
(:mod:`postlogin.kinds.profile_sync`): social-auth's ``UserSocialAuth`` rows
(:mod:`postlogin.sync_socialauth`) and django-allauth's ``SocialAccount`` rows
(:mod:`postlogin.allauth.sync`), whichever of the two is installed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Protocol

from django.apps import apps
from django.db.models import QuerySet

from ._deprecated import module_getattr
from .events import ProviderProfile
from .jobs import PermanentJobError


class TokensRefused(Exception):
    """The provider refuses the stored credentials: revoked access, or a refresh that failed."""


class AccountSource(Protocol):
    """Where linked accounts and their tokens live: social-auth or django-allauth."""

    def accounts(self) -> QuerySet[Any]:
        """The accounts that can be synced (a model with ``user`` and ``provider`` fields)."""

    def provider_ids(self, account_providers: set[str]) -> dict[str, str]:
        """postlogin's provider id for each value of the accounts' ``provider`` field."""

    def fetch_profile(self, account_id: int) -> ProviderProfile:
        """The account's profile as the provider reports it now; raises
        :class:`TokensRefused`, :class:`~postlogin.jobs.PermanentJobError`, or another
        exception for a passing failure (retried)."""


#: Source name (``Job.payload["source"]``) -> module, and the app it needs installed.
SOURCES = {
    "social_auth": ("postlogin.sync_socialauth", "social_django"),
    "allauth": ("postlogin.allauth.sync", "allauth.socialaccount"),
}


def source(name: str) -> AccountSource:
    module_name, app = SOURCES[name]
    if not apps.is_installed(app):
        raise PermanentJobError(f"{app} is not installed: no {name} account to sync")
    module: Any = import_module(module_name)
    return module.SOURCE  # type: ignore[no-any-return]


def installed_sources() -> list[str]:
    return [name for name, (_module, app) in SOURCES.items() if apps.is_installed(app)]


def __getattr__(name: str) -> Any:
    # The profile_sync kind lived here before postlogin.kinds (see postlogin._deprecated).
    return module_getattr(__name__)(name)
