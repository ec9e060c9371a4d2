"""Profile re-sync for social-auth accounts (``UserSocialAuth``), through their backends.

The backend knows its provider's user-info URL (``user_data``), and
``UserSocialAuth.get_access_token()`` refreshes a token known to have expired. Many providers
do not say when a token expires: a refused token is refreshed once, with the stored refresh
token, before the refusal counts.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .. import providers
from ..accounts import TokensRefused
from ..events import ProviderProfile
from ..jobs import PermanentJobError, retry_after
from . import tokens


def _refused(exc: Exception) -> bool:
    """Is this the provider saying the stored credentials are no good (not a passing fault)?"""
    from social_core.exceptions import AuthCredentialError

    status = getattr(exc, "status_code", None)
    return isinstance(exc, AuthCredentialError) or status in (400, 401, 403)


class SocialAuthAccounts:
    def accounts(self) -> QuerySet[Any]:
        from social_django.models import UserSocialAuth

        return UserSocialAuth.objects.all()

    def provider_ids(self, account_providers: set[str]) -> dict[str, str]:
        return {
            backend: providers.provider_id(providers.for_backend(backend), backend)
            for backend in account_providers
        }

    def fetch_profile(self, account_id: int) -> ProviderProfile:
        from social_core.exceptions import SocialAuthBaseException
        from social_django.models import UserSocialAuth
        from social_django.utils import load_strategy

        social = UserSocialAuth.objects.filter(pk=account_id).first()
        if social is None:
            raise PermanentJobError(f"social-auth account {account_id} no longer exists")
        strategy = load_strategy()  # type: ignore[no-untyped-call]
        backend: Any = social.get_backend_instance(strategy)
        if backend is None:
            raise PermanentJobError(f"the {social.provider} backend is not enabled")
        if hasattr(backend, "validate_userinfo_sub"):
            # OpenID Connect checks that the user info belongs to the ID token's subject;
            # outside a login there is no ID token, but the stored uid is that subject.
            backend.id_token = {"sub": social.uid}
        try:
            data = fetch_user_data(social, backend, strategy)
        except SocialAuthBaseException as exc:
            if _refused(exc):
                raise TokensRefused(str(exc)) from exc
            # social-core keeps the provider's Retry-After header as it came (seconds or a date).
            later = retry_after(getattr(exc, "retry_after", None), f"{social.provider}: {exc}")
            if later is not None:
                raise later from exc
            raise
        return providers.for_backend(social.provider).profile(data)

    def access_token(self, user_id: Any, provider_id: str) -> str | None:
        return tokens.access_token(user_id, provider_id)


def fetch_user_data(social: Any, backend: Any, strategy: Any) -> Any:
    """The provider's user info with the stored access token (refreshed first when it is known
    to have expired, or once when the provider refuses it)."""
    from social_core.exceptions import SocialAuthBaseException

    token = social.get_access_token(strategy)
    try:
        return backend.user_data(token) or {}
    except SocialAuthBaseException as exc:
        if not (_refused(exc) and backend.get_refresh_token(social.extra_data)):
            raise
    social.refresh_token(strategy)
    return backend.user_data(social.access_token) or {}


SOURCE = SocialAuthAccounts()
