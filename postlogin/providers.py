"""Provider payload -> :class:`~postlogin.events.ProviderProfile`.

One small declarative class per provider. ``backend_names`` are social-core backend names,
``allauth_ids`` are django-allauth provider ids; both map to the one provider ``id``.
Extraction never raises: whatever the payload, a strange value becomes a missing field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .events import ProviderProfile


def text(payload: Mapping[str, Any], *path: str) -> str | None:
    """The non-empty string at ``payload[path[0]][path[1]]...``, or None."""
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def truthy_claim(value: Any) -> bool:
    """An ``email_verified`` claim: True, or the string "true" some providers send."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


class Provider:
    """Declarative extractor. Override a ``*_key`` attribute, or a method where needed."""

    id: ClassVar[str]
    backend_names: ClassVar[tuple[str, ...]] = ()
    allauth_ids: ClassVar[tuple[str, ...]] = ()
    uid_key: ClassVar[str] = "id"
    email_key: ClassVar[str] = "email"
    name_key: ClassVar[str] = "name"
    avatar_key: ClassVar[str | None] = None

    def profile(self, payload: Any) -> ProviderProfile:
        """The normalised profile; any value that is not the expected shape is left out."""
        if not isinstance(payload, Mapping):
            payload = {}
        email = self.email(payload)
        return ProviderProfile(
            uid=self.uid(payload),
            email=email,
            email_verified=bool(email) and self.email_verified(payload, email or ""),
            name=self.name(payload),
            avatar_url=self.avatar_url(payload),
        )

    def uid(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, self.uid_key)

    def email(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, self.email_key)

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        return truthy_claim(payload.get("email_verified"))

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, self.name_key)

    def avatar_url(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, self.avatar_key) if self.avatar_key else None


class OpenIDConnect(Provider):
    """Standard OpenID Connect claims (userinfo merged with the token response)."""

    id = "oidc"
    backend_names: ClassVar[tuple[str, ...]] = ("oidc",)
    allauth_ids: ClassVar[tuple[str, ...]] = ("openid_connect",)
    uid_key = "sub"
    avatar_key = "picture"


class Google(OpenIDConnect):
    id = "google"
    backend_names = ("google-oauth2", "google-openidconnect")
    allauth_ids = ("google",)

    def uid(self, payload: Mapping[str, Any]) -> str | None:
        # Google's v3 userinfo says "sub"; the older v2 endpoint says "id".
        return text(payload, "sub") or text(payload, "id")

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        return truthy_claim(payload.get("email_verified")) or truthy_claim(
            payload.get("verified_email")
        )


class GitHub(Provider):
    id = "github"
    backend_names = ("github",)
    allauth_ids = ("github",)
    avatar_key = "avatar_url"

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "name") or text(payload, "login")

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        # /user's "email" carries no verified flag; only the /user/emails list does.
        emails = payload.get("emails")
        if not isinstance(emails, list):
            return False
        return any(
            isinstance(entry, Mapping)
            and text(entry, "email") == email
            and entry.get("verified") is True
            for entry in emails
        )


class Generic(Provider):
    """Fallback for backends without a dedicated extractor: common key names only."""

    id = "generic"

    def uid(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "sub") or text(payload, "id")

    def avatar_url(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "picture") or text(payload, "avatar_url")

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        return truthy_claim(payload.get("email_verified"))


PROVIDERS: tuple[type[Provider], ...] = (OpenIDConnect, Google, GitHub)

_BY_BACKEND = {name: cls for cls in PROVIDERS for name in cls.backend_names}
_BY_ALLAUTH = {name: cls for cls in PROVIDERS for name in cls.allauth_ids}


def for_backend(backend_name: str) -> Provider:
    """The extractor for a social-core backend name (a generic one if unknown)."""
    return _BY_BACKEND.get(backend_name, Generic)()


def for_allauth(provider_id: str) -> Provider:
    """The extractor for a django-allauth provider id (a generic one if unknown)."""
    return _BY_ALLAUTH.get(provider_id, Generic)()


def provider_id(provider: Provider, fallback: str) -> str:
    """The provider id to record: the extractor's, or the backend name for unknown ones."""
    return fallback if isinstance(provider, Generic) else provider.id
