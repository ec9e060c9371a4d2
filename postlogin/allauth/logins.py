"""allauth's ``SocialLogin`` -> the same :class:`~postlogin.events.LoginEvent` as social-auth's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from .. import emails, providers
from ..events import LoginEvent

#: allauth's generic OpenID Connect provider: many apps (``provider_id``s), one provider class.
OPENID_CONNECT = "openid_connect"


def provider_type(sociallogin: Any) -> str:
    """The allauth provider class id (``"google"``, ``"openid_connect"``...).

    ``sociallogin.account.provider`` is the app's ``provider_id`` for providers with sub-apps
    (``"devidp"`` for an OpenID Connect app); the provider instance knows the class id.
    """
    provider = getattr(sociallogin, "provider", None)
    if provider is None:
        provider = sociallogin.account.get_provider()
    return str(provider.id)


def provider_payload(
    allauth_type: str, extra_data: Any, email_addresses: Iterable[Any] = ()
) -> dict[str, Any]:
    """What the provider sent, in the shape the extractors read (social-core's ``response``)."""
    data: dict[str, Any] = dict(extra_data) if isinstance(extra_data, Mapping) else {}
    if allauth_type == OPENID_CONNECT:
        # Since allauth 65.11 the claims are kept apart: {"id_token": {...}, "userinfo": {...}}.
        # Userinfo wins where both have a claim, as in allauth's own account data.
        claims: dict[str, Any] = {}
        for part in ("id_token", "userinfo"):
            if isinstance(data.get(part), Mapping):
                claims.update(data[part])
        data = claims
    addresses = list(email_addresses)
    if addresses and "emails" not in data:
        # allauth moves GitHub's /user/emails list (the only place with verified flags) out of
        # extra_data into sociallogin.email_addresses: put it back in GitHub's own shape.
        data["emails"] = [
            {"email": a.email, "verified": bool(a.verified), "primary": bool(a.primary)}
            for a in addresses
        ]
    if addresses and not providers.text(data, "email"):
        # No public email (GitHub's "email": null): the primary address stands in, as social-core
        # and allauth itself both do.
        data["email"] = next((a for a in addresses if a.primary), addresses[0]).email
    return data


def login_event(sociallogin: Any, user_id: Any, *, is_new: bool) -> LoginEvent:
    """The event for a completed allauth social login by user ``user_id``."""
    account = sociallogin.account
    allauth_type = provider_type(sociallogin)
    extractor = providers.for_allauth(allauth_type)
    payload = provider_payload(allauth_type, account.extra_data, sociallogin.email_addresses)
    # allauth's uid is the account's identity (it honours an app's own uid_field setting).
    profile = dataclasses.replace(extractor.profile(payload), uid=str(account.uid) or None)
    if profile.email and not profile.email_verified and verified_by_allauth(user_id, profile.email):
        profile = dataclasses.replace(profile, email_verified=True)
    return LoginEvent(
        user_id=user_id,
        provider=providers.provider_id(extractor, str(account.provider)),
        is_new=is_new,
        profile=profile,
    )


def verified_by_allauth(user_id: Any, email: str) -> bool:
    """Whether allauth has verified ``email`` for the user (``EmailAddress.verified``: a
    confirmation link was followed, or allauth trusted the provider)."""
    from allauth.account.models import EmailAddress

    verified = EmailAddress.objects.filter(user_id=user_id, verified=True)
    return any(
        emails.same_address(address, email) for address in verified.values_list("email", flat=True)
    )
