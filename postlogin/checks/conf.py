"""Checks of ``settings.POSTLOGIN``: its validity, and what it lets avatar fetching reach."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from ..conf import SETTING_NAME, postlogin_settings

#: Addresses that are not on the public internet: "this network", private (RFC 1918 and
#: unique local), shared (carrier-grade NAT), loopback, link-local, and IPv4-mapped IPv6.
NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "fc00::/7",
        "fe80::/10",
    )
)


@register("postlogin")
def check_settings_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        # Reading any key loads, and validates, the whole dict.
        postlogin_settings.JOB_LEASE  # noqa: B018
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint=f"Correct settings.{SETTING_NAME} as the message says; docs/settings.md "
                "lists every key with its type and default.",
                id="postlogin.E002",
            )
        ]
    return []


def allowed_networks() -> list[str]:
    """``POSTLOGIN["FETCH_ALLOWED_NETWORKS"]`` as written (validation belongs to conf)."""
    user_settings = getattr(settings, SETTING_NAME, {})
    if not isinstance(user_settings, Mapping):
        return []
    networks = user_settings.get("FETCH_ALLOWED_NETWORKS") or []
    if isinstance(networks, str) or not isinstance(networks, list | tuple):
        return []
    return [network for network in networks if isinstance(network, str)]


def reaches_non_public(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False  # not a network; the settings validation reports it
    return any(
        network.version == other.version and network.overlaps(other)
        for other in NON_PUBLIC_NETWORKS
    )


@register("postlogin")
def check_private_fetching(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return []
    private = [cidr for cidr in allowed_networks() if reaches_non_public(cidr)]
    if not private:
        return []
    listed = ", ".join(private)
    return [
        Warning(
            f"{SETTING_NAME}['FETCH_ALLOWED_NETWORKS'] lets jobs fetch from non-public "
            f"networks ({listed}) while DEBUG is off: an avatar URL chosen by whoever controls "
            "a provider account could then reach your internal services.",
            hint=f"Remove {listed} from {SETTING_NAME}['FETCH_ALLOWED_NETWORKS'] in production "
            "settings; allow local networks only in development, with DEBUG = True.",
            id="postlogin.W008",
        )
    ]


@register("postlogin")
def check_unverified_welcome(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        unverified = postlogin_settings.WELCOME_EMAIL_UNVERIFIED
    except ImproperlyConfigured:
        return []  # postlogin.E002 reports it
    if not unverified:
        return []
    return [
        Warning(
            f"{SETTING_NAME}['WELCOME_EMAIL_UNVERIFIED'] is on: the welcome email also goes to "
            "addresses no provider verified, such as Microsoft's 'mail', which can name anybody: "
            "whoever signs in can make your site send its mail to a stranger.",
            hint=f"Remove WELCOME_EMAIL_UNVERIFIED from {SETTING_NAME}, or keep it only if every "
            "enabled provider verifies the addresses it returns.",
            id="postlogin.W009",
        )
    ]
