"""django-allauth's stored access tokens: ``SocialToken`` rows (``SOCIALACCOUNT_STORE_TOKENS``)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from .. import providers


def access_token(user_id: Any, provider_id: str) -> str | None:
    """The user's stored, unexpired access token for a provider, from django-allauth.

    ``provider_id`` is postlogin's provider id (``Job.provider``: ``"google"``, ``"oidc"``...)
    or an allauth one (``"google"``, an OpenID Connect app's ``provider_id``). None when
    allauth is not installed, stores no tokens (``SOCIALACCOUNT_STORE_TOKENS`` is off), or has
    none for this user, or only an expired one. When the user has several (several apps or
    accounts), the one of the most recently used account wins.
    """
    if not apps.is_installed("allauth.socialaccount"):
        return None
    from allauth.socialaccount.models import SocialToken

    token: str | None = (
        SocialToken.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
            account__user_id=user_id,
            account__provider__in=account_providers(provider_id),
        )
        .order_by("-account__last_login", "-pk")
        .values_list("token", flat=True)
        .first()
    )
    return token or None


def account_providers(provider_id: str) -> set[str]:
    """The values ``SocialAccount.provider`` takes for ``provider_id``.

    allauth stores the app's ``provider_id`` for providers with several apps (OpenID Connect),
    so postlogin's ``"oidc"`` stands for every ``openid_connect`` app.
    """
    from allauth.socialaccount.adapter import get_adapter

    ids = {provider_id}
    for extractor in providers.registered():
        if extractor.id == provider_id:
            ids.update(extractor.allauth_ids)
    adapter = get_adapter()
    for allauth_id in list(ids):
        ids.update(app.provider_id for app in adapter.list_apps(None, provider=allauth_id))
    ids.discard("")
    return ids
