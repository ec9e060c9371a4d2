"""Profile re-sync for django-allauth accounts: ``SocialAccount`` rows with a ``SocialToken``.

The provider's own allauth adapter asks for the user info (``complete_login``, as at login
without the token response), so the same OAuth 2 providers work as for logging in: OpenID
Connect apps (userinfo endpoint from discovery), Google, GitHub and the rest. allauth itself
never refreshes a token, so this module does, at the app's token endpoint with the stored
refresh token (``SocialToken.token_secret``, RFC 6749 section 6): first when ``expires_at`` has
passed, and once when the provider refuses the access token. A refresh the provider refuses
(400 or 401: ``invalid_grant``, ``invalid_client``) means the user must log in again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import requests
from allauth.core.context import request_context
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from .. import providers
from ..accounts import TokensRefused
from ..events import ProviderProfile
from ..jobs import PermanentJobError, retry_after
from ..numbers import ascii_int
from . import tokens
from .logins import provider_payload

#: Statuses with which a server refuses credentials (RFC 6749 section 5.2, RFC 6750 section 3.1).
REFUSED = (400, 401, 403)
#: The longest ``expires_in`` believed, in seconds (ten years); a longer one is ignored.
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600


class AllauthAccounts:
    def accounts(self) -> QuerySet[Any]:
        with_token = SocialToken.objects.filter(account=OuterRef("pk"))
        accounts: QuerySet[Any] = SocialAccount.objects.filter(Exists(with_token))
        return accounts

    def provider_ids(self, account_providers: set[str]) -> dict[str, str]:
        adapter = get_adapter()
        ids = {}
        for value in account_providers:
            try:
                allauth_type = str(adapter.get_provider(None, provider=value).id)
            except (ImproperlyConfigured, SocialApp.DoesNotExist):
                allauth_type = value  # the app is gone; the job will say so
            ids[value] = providers.provider_id(providers.for_allauth(allauth_type), value)
        return ids

    def fetch_profile(self, account_id: int) -> ProviderProfile:
        account = SocialAccount.objects.filter(pk=account_id).first()
        if account is None:
            raise PermanentJobError(f"allauth social account {account_id} no longer exists")
        token = SocialToken.objects.filter(account=account).order_by("-pk").first()
        if token is None:
            raise TokensRefused("no stored token (SOCIALACCOUNT_STORE_TOKENS off, or removed)")
        request = RequestFactory().get("/")
        with request_context(request):
            provider, adapter = _provider_and_adapter(account, request)
            login = _complete_login(adapter, provider.app, token, request)
        if str(login.account.uid) != str(account.uid):
            answered = login.account.uid
            raise PermanentJobError(
                f"{account.provider} answered for account {answered!r}, not {account.uid!r}"
            )
        payload = provider_payload(provider.id, login.account.extra_data, login.email_addresses)
        fresh = providers.for_allauth(provider.id).profile(payload)
        return dataclasses.replace(fresh, uid=str(account.uid))

    def access_token(self, user_id: Any, provider_id: str) -> str | None:
        return tokens.access_token(user_id, provider_id)


def _provider_and_adapter(account: SocialAccount, request: HttpRequest) -> tuple[Any, Any]:
    try:
        provider = account.get_provider(request)
    except (ImproperlyConfigured, SocialApp.DoesNotExist) as exc:
        raise PermanentJobError(f"no allauth app for {account.provider!r}: {exc}") from exc
    get_oauth2_adapter = getattr(provider, "get_oauth2_adapter", None)
    if get_oauth2_adapter is None:
        raise PermanentJobError(f"allauth's {provider.id} provider is not an OAuth 2 provider")
    try:
        return provider, get_oauth2_adapter(request)
    except ImproperlyConfigured as exc:
        raise PermanentJobError(str(exc)) from exc


def _complete_login(adapter: Any, app: Any, token: SocialToken, request: HttpRequest) -> Any:
    """The provider's answer for ``token`` (refreshed when expired, or once when refused)."""
    if token.expires_at is not None and token.expires_at <= timezone.now():
        refresh(adapter, app, token)
    try:
        return adapter.complete_login(request, app, token, response={})
    except (requests.RequestException, OAuth2Error) as exc:
        # allauth's Google adapter says OAuth2Error without a status: it may be a refusal.
        may_be_refused = isinstance(exc, OAuth2Error) or _status(exc) in REFUSED
        if not (may_be_refused and token.token_secret):
            raise _classified(exc, token) from exc
    refresh(adapter, app, token)
    try:
        return adapter.complete_login(request, app, token, response={})
    except (requests.RequestException, OAuth2Error) as exc:
        raise _classified(exc, token) from exc


def refresh(adapter: Any, app: Any, token: SocialToken) -> None:
    """Exchange the stored refresh token for a new access token, and store both."""
    if not token.token_secret:
        raise TokensRefused("the access token has expired and there is no refresh token")
    data = {"grant_type": "refresh_token", "refresh_token": token.token_secret}
    auth = None
    if adapter.basic_auth:
        auth = requests.auth.HTTPBasicAuth(app.client_id, app.secret)
    else:
        client_id_parameter = getattr(adapter.client_class, "client_id_parameter", "client_id")
        data.update({client_id_parameter: app.client_id, "client_secret": app.secret})
    with get_adapter().get_requests_session() as session:
        response = session.post(
            adapter.access_token_url, data=data, auth=auth, headers=adapter.headers
        )
    if response.status_code in (400, 401):
        raise TokensRefused(f"the token endpoint refused the refresh token: {response.text[:200]}")
    response.raise_for_status()
    fresh = adapter.parse_token(_with_usable_expiry(adapter, response.json()))
    token.token = fresh.token
    if fresh.token_secret:  # providers that do not rotate refresh tokens send none
        token.token_secret = fresh.token_secret
    token.expires_at = fresh.expires_at
    token.save(update_fields=["token", "token_secret", "expires_at"])


def _with_usable_expiry(adapter: Any, data: Any) -> Any:
    """The token response with its ``expires_in`` left out unless it is a number of seconds.

    allauth's ``parse_token`` takes ``int()`` of it: ``"²"`` would raise ``ValueError``, and a
    huge number ``OverflowError`` in the date arithmetic. A token without a known expiry is
    simply refreshed once the provider refuses it.
    """
    key = getattr(adapter, "expires_in_key", "expires_in")
    if not isinstance(data, dict) or key not in data:
        return data
    seconds = ascii_int(data[key])
    if seconds is not None and seconds <= MAX_TOKEN_LIFETIME:
        return {**data, key: seconds}
    return {name: value for name, value in data.items() if name != key}


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _classified(exc: Exception, token: SocialToken) -> Exception:
    """A refusal ends in "needs login"; a 429 or 503 with Retry-After waits as told; anything
    else is a passing failure, retried with backoff."""
    status = _status(exc)
    if status in (401, 403) or (status == 400 and not token.token_secret):
        return TokensRefused(str(exc))
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return retry_after(headers.get("Retry-After"), str(exc)) or exc


SOURCE = AllauthAccounts()
