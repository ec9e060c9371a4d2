"""Provider payload -> :class:`~postlogin.events.ProviderProfile`.

One small declarative class per provider. ``backend_names`` are social-core backend names,
``allauth_ids`` are django-allauth provider ids; both map to the one provider ``id``. The payload
is social-core's ``response`` (user data merged with the token response) or allauth's
``SocialAccount.extra_data``.

Extraction never raises: whatever the payload, a strange value becomes a missing field, so a
provider's odd answer can never break a login. A project adds its own provider with
:func:`register`; see docs/extending.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .events import ProviderProfile
from .numbers import ASCII_DIGITS

#: The longest avatar URL kept (``Profile.avatar_source_url`` holds up to this many characters).
MAX_URL_LENGTH = 2048
#: Numbers as large as this become text; str() of a huge int raises ValueError (Python's
#: int/str conversion limit), and no provider's id is anywhere near it.
_MAX_INT = 10**40


def text(payload: Any, *path: str) -> str | None:
    """The non-empty string at ``payload[path[0]][path[1]]...``, or None."""
    value: Any = payload
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -_MAX_INT < value < _MAX_INT:
        return str(value)
    # PostgreSQL cannot store NUL, and no genuine identifier, name or address contains one.
    if isinstance(value, str) and value.strip() and "\x00" not in value:
        return value.strip()
    return None


def http_url(value: str | None) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host that we could store, else None."""
    if not value or len(value) > MAX_URL_LENGTH:
        return None
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return value


def truthy_claim(value: Any) -> bool:
    """An ``email_verified`` claim: True, or the string "true" some providers send."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def digits(value: str | None) -> str | None:
    """``value`` if it is a plain decimal number (safe to put in a URL path), else None."""
    return value if value and ASCII_DIGITS.fullmatch(value) else None


class Provider:
    """Declarative extractor. Override a ``*_key`` attribute, or a method where needed."""

    id: ClassVar[str]
    backend_names: ClassVar[tuple[str, ...]] = ()
    allauth_ids: ClassVar[tuple[str, ...]] = ()
    uid_key: ClassVar[str] = "id"
    email_key: ClassVar[str] = "email"
    name_key: ClassVar[str] = "name"
    avatar_key: ClassVar[str | None] = None
    #: Where the avatar comes from when the payload has no URL (the ``avatar`` job reads it).
    photo_source: ClassVar[str | None] = None

    def profile(self, payload: Any) -> ProviderProfile:
        """The normalised profile; any value that is not the expected shape is left out."""
        claims = self.claims(payload) if isinstance(payload, Mapping) else {}
        email = self.email(claims)
        return ProviderProfile(
            uid=self.uid(claims),
            email=email,
            email_verified=bool(email) and self.email_verified(claims, email or ""),
            name=self.name(claims),
            avatar_url=http_url(self.avatar_url(claims)),
        )

    def claims(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """The mapping the other methods read (a provider may flatten nested data here)."""
        return payload

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
    """Standard OpenID Connect claims: social-core passes userinfo merged with the token
    response; allauth keeps ``{"userinfo": {...}, "id_token": {...claims}}``."""

    id = "oidc"
    backend_names: ClassVar[tuple[str, ...]] = ("oidc",)
    allauth_ids: ClassVar[tuple[str, ...]] = ("openid_connect",)
    uid_key = "sub"
    avatar_key = "picture"

    def claims(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        # ID token claims, then userinfo over them (fresher), then top-level keys. A raw ID
        # token (a string) is not decoded here: verifying it is the login library's job.
        merged: dict[Any, Any] = {}
        for nested in ("id_token", "userinfo"):
            value = payload.get(nested)
            if isinstance(value, Mapping):
                merged.update(value)
        merged.update(
            (key, value) for key, value in payload.items() if key not in ("id_token", "userinfo")
        )
        return merged


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


class LinkedIn(OpenIDConnect):
    """Sign In with LinkedIn (OpenID Connect); allauth configures it as an ``openid_connect``
    app whose ``provider_id`` is ``linkedin``."""

    id = "linkedin"
    backend_names = ("linkedin-openidconnect",)
    allauth_ids = ("linkedin",)


class GitHub(Provider):
    id = "github"
    backend_names = ("github",)
    allauth_ids = ("github",)
    avatar_key = "avatar_url"

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "name") or text(payload, "login")

    def email(self, payload: Mapping[str, Any]) -> str | None:
        # /user's "email" is the public one and may be null; /user/emails names the primary.
        return text(payload, "email") or next(
            (text(entry, "email") for entry in _entries(payload, "emails") if _is_primary(entry)),
            None,
        )

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        # /user's "email" carries no verified flag; only the /user/emails list does.
        return any(
            text(entry, "email") == email and entry.get("verified") is True
            for entry in _entries(payload, "emails")
        )


def _entries(payload: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = payload.get(key)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def _is_primary(entry: Mapping[str, Any]) -> bool:
    return entry.get("primary") is True


class GitLab(Provider):
    id = "gitlab"
    backend_names = ("gitlab",)
    allauth_ids = ("gitlab",)
    avatar_key = "avatar_url"

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "name") or text(payload, "username")

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        # /api/v4/user tells the current user when their address was confirmed.
        return truthy_claim(payload.get("email_verified")) or bool(text(payload, "confirmed_at"))


class Facebook(Provider):
    id = "facebook"
    backend_names = ("facebook", "facebook-app")
    allauth_ids = ("facebook",)

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        # The Graph API sends no verified flag for "email".
        return False

    def avatar_url(self, payload: Mapping[str, Any]) -> str | None:
        picture = payload.get("picture")
        data = picture.get("data") if isinstance(picture, Mapping) else None
        if isinstance(data, Mapping):
            if data.get("is_silhouette") is True:
                return None  # Facebook's grey placeholder, not the user's picture
            if url := text(data, "url"):
                return url
        # Without the "picture" field requested, the picture endpoint of the user's id.
        uid = digits(text(payload, "id"))
        return f"https://graph.facebook.com/{uid}/picture?type=large" if uid else None


class X(Provider):
    """X (Twitter) OAuth 2.0: ``GET /2/users/me`` data."""

    id = "twitter"
    backend_names = ("twitter-oauth2",)
    allauth_ids = ("twitter_oauth2",)
    #: ``_normal`` is 48 px; ``_400x400`` is the largest square size X serves.
    avatar_size_suffix = "_400x400"

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "name") or text(payload, "username")

    def email(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "confirmed_email") or text(payload, "email")

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        return text(payload, "confirmed_email") == email

    def avatar_url(self, payload: Mapping[str, Any]) -> str | None:
        url = http_url(text(payload, "profile_image_url"))
        if url is None:
            return None
        parts = urlsplit(url)
        folder, slash, file_name = parts.path.rpartition("/")
        stem, dot, extension = file_name.rpartition(".")
        if not dot:
            stem, extension = extension, ""
        if stem.endswith("_normal"):
            stem = stem.removesuffix("_normal") + self.avatar_size_suffix
        return urlunsplit(parts._replace(path=f"{folder}{slash}{stem}{dot}{extension}"))


class Discord(Provider):
    id = "discord"
    backend_names = ("discord",)
    allauth_ids = ("discord",)
    #: A user's avatar is an image hash, "a_" first when animated.
    _HASH = re.compile(r"(a_)?[0-9a-f]{32}")

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "global_name") or text(payload, "username")

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        return payload.get("verified") is True

    def avatar_url(self, payload: Mapping[str, Any]) -> str | None:
        uid = digits(text(payload, "id"))
        avatar_hash = text(payload, "avatar")
        if not uid or not avatar_hash or not self._HASH.fullmatch(avatar_hash):
            return None  # no custom avatar: Discord shows a default one
        # PNG even for animated avatars: the first frame, as for any other provider.
        return f"https://cdn.discordapp.com/avatars/{uid}/{avatar_hash}.png?size=512"


class Microsoft(Provider):
    """Microsoft Entra ID: Graph's ``/me`` (``microsoft-graph``, allauth ``microsoft``) or the
    ID token claims (``azuread-*``). No picture URL: the ``avatar`` job reads the photo's bytes
    from Graph with the user's stored access token."""

    id = "microsoft"
    backend_names = (
        "microsoft-graph",
        "azuread-oauth2",
        "azuread-oauth2-v2",
        "azuread-tenant-oauth2",
        "azuread-v2-tenant-oauth2",
    )
    allauth_ids = ("microsoft",)
    photo_source = "microsoft-graph"

    def uid(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "id") or text(payload, "oid") or text(payload, "sub")

    def email(self, payload: Mapping[str, Any]) -> str | None:
        return (
            text(payload, "mail")
            or text(payload, "email")
            or text(payload, "userPrincipalName")
            or text(payload, "upn")
        )

    def email_verified(self, payload: Mapping[str, Any], email: str) -> bool:
        # Entra ID's mail and UPN are set by tenant admins and never verified: trusting them
        # lets one tenant sign in as another's user ("nOAuth").
        return False

    def name(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "displayName") or text(payload, "name")


class Apple(Provider):
    """Sign in with Apple: the ID token claims. Apple sends the name only on the first login,
    outside the token (social-core keeps it under ``_apple_user_name``, allauth under
    ``name``); there is no picture."""

    id = "apple"
    backend_names = ("apple-id",)
    allauth_ids = ("apple",)
    uid_key = "sub"

    def name(self, payload: Mapping[str, Any]) -> str | None:
        for key in ("_apple_user_name", "name"):
            parts = [text(payload, key, part) for part in ("firstName", "lastName")]
            if full := " ".join(part for part in parts if part):
                return full
        return None


class Generic(OpenIDConnect):
    """Fallback for backends without a dedicated extractor: common key names only."""

    id = "generic"
    backend_names = ()
    allauth_ids = ()

    def uid(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "sub") or text(payload, "id")

    def avatar_url(self, payload: Mapping[str, Any]) -> str | None:
        return text(payload, "picture") or text(payload, "avatar_url")


#: The providers postlogin ships; :func:`registered` adds a project's own.
PROVIDERS: tuple[type[Provider], ...] = (
    OpenIDConnect,
    Google,
    LinkedIn,
    GitHub,
    GitLab,
    Facebook,
    X,
    Discord,
    Microsoft,
    Apple,
)

#: ``Job.provider`` holds at most this many characters.
MAX_ID_LENGTH = 64

ProviderClass = TypeVar("ProviderClass", bound=type[Provider])

_registry: dict[str, type[Provider]] = {}
_by_backend: dict[str, type[Provider]] = {}
_by_allauth: dict[str, type[Provider]] = {}


def register(cls: ProviderClass) -> ProviderClass:
    """Serve ``cls.backend_names`` and ``cls.allauth_ids`` with ``cls``; a class decorator.

    Invariants: a provider id, a social-core backend name and an allauth provider id each
    belong to at most one registered class (a clash raises ``ValueError`` and registers
    nothing); registering the same class again changes nothing. Register from a module that
    ``AppConfig.ready()`` imports, so that web processes and workers all know the provider.
    """
    provider_id = getattr(cls, "id", None)
    if not isinstance(provider_id, str) or not 0 < len(provider_id) <= MAX_ID_LENGTH:
        raise ValueError(f"{cls!r}: id must be 1 to {MAX_ID_LENGTH} characters")
    if provider_id == Generic.id:
        raise ValueError(f"{cls!r}: {Generic.id!r} is the fallback's id")
    clashes = [
        f"{kind} {name!r} is served by {other.__qualname__}"
        for kind, names, served in (
            ("provider id", (provider_id,), _registry),
            ("backend name", cls.backend_names, _by_backend),
            ("allauth id", cls.allauth_ids, _by_allauth),
        )
        for name in names
        if (other := served.get(name)) is not None and other is not cls
    ]
    if clashes:
        raise ValueError(f"cannot register {cls.__qualname__}: " + "; ".join(clashes))
    _registry[provider_id] = cls
    _by_backend.update(dict.fromkeys(cls.backend_names, cls))
    _by_allauth.update(dict.fromkeys(cls.allauth_ids, cls))
    return cls


def unregister(provider_id: str) -> None:
    """Stop serving the provider ``provider_id`` (for tests; unknown ids are ignored)."""
    cls = _registry.pop(provider_id, None)
    if cls is None:
        return
    for served in (_by_backend, _by_allauth):
        for name in [name for name, other in served.items() if other is cls]:
            del served[name]


def registered() -> tuple[type[Provider], ...]:
    """Every provider served: postlogin's own, then the project's, in registration order."""
    return tuple(_registry.values())


for _builtin in PROVIDERS:
    register(_builtin)


def for_backend(backend_name: str) -> Provider:
    """The extractor for a social-core backend name (a generic one if unknown)."""
    return _by_backend.get(backend_name, Generic)()


def for_allauth(provider_id: str) -> Provider:
    """The extractor for a django-allauth provider id (a generic one if unknown)."""
    return _by_allauth.get(provider_id, Generic)()


def for_id(provider_id: str) -> Provider | None:
    """The extractor whose ``id`` is ``provider_id`` (as recorded on jobs), if any."""
    cls = _registry.get(provider_id)
    return cls() if cls else None


def provider_id(provider: Provider, fallback: str) -> str:
    """The provider id to record: the extractor's, or the backend name for unknown ones."""
    return fallback if isinstance(provider, Generic) else provider.id


def social_core_payload(backend: Any, response: Any) -> dict[str, Any]:
    """What a social-core login received, in the shape the extractors read.

    ``response`` is the pipeline's: the token response merged with the user data. An OpenID
    Connect backend keeps the ID token's claims, validated (signature, issuer, audience,
    nonce), on ``backend.id_token``; they replace the raw JWT under ``id_token``, as in
    allauth's ``extra_data``. Some providers put the email only there: Twitch answers
    userinfo with the subject alone unless asked for more, and social-core asks for the
    email in the ID token.
    """
    payload: dict[str, Any] = dict(response) if isinstance(response, Mapping) else {}
    claims = getattr(backend, "id_token", None)
    if isinstance(claims, Mapping):
        payload["id_token"] = dict(claims)
    return payload
