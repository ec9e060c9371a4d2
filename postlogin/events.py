"""Plain data that describes a login. Only these values ever leave the login request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """What a provider told us about the user, normalised across providers.

    Every field may be missing: a provider that omits a value must never break a login.
    """

    uid: str | None = None
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class LoginEvent:
    """One completed social login: who, through which provider, and whether it was a signup."""

    user_id: int
    provider: str
    is_new: bool
    profile: ProviderProfile
    #: Unique per login: the idempotency key of work done "once per login".
    login_id: str = field(default_factory=lambda: uuid.uuid4().hex)
