"""The registry of account sources: where linked social accounts and their tokens live.

Each login integration registers its source when its app is ready (social-auth's from
``postlogin``'s own ``ready()`` when ``social_django`` is installed, allauth's from
``postlogin.allauth``'s), so postlogin never imports an integration it was not given. A source
counts only while the app it names is installed (``override_settings`` may remove it).
Sources are asked in the order they registered, that is the order of ``INSTALLED_APPS``.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.apps import apps
from django.db.models import QuerySet

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

    def access_token(self, user_id: Any, provider_id: str) -> str | None:
        """The user's stored access token for postlogin's ``provider_id``, or None."""


#: Source name (``Job.payload["source"]``) -> (the source, the app it needs installed).
_SOURCES: dict[str, tuple[AccountSource, str]] = {}


def register_source(name: str, source: AccountSource, *, app: str) -> None:
    """Make ``source`` the account source ``name`` while ``app`` is installed (registering
    the same name again replaces it, keeping its place)."""
    _SOURCES[name] = (source, app)


def source(name: str) -> AccountSource:
    """The source registered as ``name``; a :class:`~postlogin.jobs.PermanentJobError` when
    none is (its login library's app is not installed), so a job naming it fails for good."""
    source, app = _SOURCES.get(name, (None, ""))
    if source is None or not apps.is_installed(app):
        raise PermanentJobError(
            f"no {name!r} account source is registered (is its login library's app in "
            "INSTALLED_APPS?): no account to sync"
        )
    return source


def installed_sources() -> list[str]:
    """The names of the registered sources whose app is installed, in registration order."""
    return [name for name, (_source, app) in _SOURCES.items() if apps.is_installed(app)]
