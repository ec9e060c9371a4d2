from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from postlogin.conf import DEFAULTS, postlogin_settings


def test_defaults_apply_without_any_setting(settings: Any) -> None:
    del settings.POSTLOGIN
    assert postlogin_settings.AVATAR_SIZE == DEFAULTS["AVATAR_SIZE"] == 256
    assert postlogin_settings.SIGNUP_JOBS == ("welcome_email",)


def test_override_settings_reloads() -> None:
    with override_settings(POSTLOGIN={"AVATAR_SIZE": 64}):
        assert postlogin_settings.AVATAR_SIZE == 64
    assert postlogin_settings.AVATAR_SIZE == 256


def test_unknown_key_is_rejected_with_the_valid_keys_listed() -> None:
    with (
        override_settings(POSTLOGIN={"AVATAR_SIZ": 64}),
        pytest.raises(ImproperlyConfigured, match=r"Unknown key\(s\).*AVATAR_SIZ.*Valid keys"),
    ):
        postlogin_settings.AVATAR_SIZE  # noqa: B018


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NOT_A_SETTING"):
        postlogin_settings.NOT_A_SETTING  # noqa: B018


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("AVATAR_SIZE", 0, "positive integer"),
        ("AVATAR_MAX_BYTES", "5MB", "positive integer"),
        ("MAX_RETRIES", -1, "integer >= 0"),
        ("MAX_RETRIES", True, "integer >= 0"),
        ("LOGIN_JOBS", "avatar", "list of job kind names"),
        ("HTTP_TIMEOUT", 5, "connect, read"),
        ("HTTP_TIMEOUT", (1, 0), "connect, read"),
        ("AVATAR_FORMAT", "SVG", "one of WEBP, JPEG, PNG"),
        ("PUBLISH_RETRY_POLICY", None, "retry policy"),
        ("PHONE_REQUIRED_FOR", "everyone", "'new_users' or 'users_without_phone'"),
        ("TERMS_URL", "", "None or a URL"),
        ("PARTIAL_MAX_AGE", 0, "positive integer"),
        ("PRUNE_DONE_AFTER", 0, "positive integer"),
        ("PRUNE_FAILED_AFTER", "90d", "positive integer"),
        ("PRUNE_BATCH_SIZE", -1, "positive integer"),
        ("PRUNE_MAX_BATCHES", None, "positive integer"),
        ("FETCH_ALLOW_HTTP", "yes", "True or False"),
        ("FETCH_MAX_REDIRECTS", -1, "integer >= 0"),
        ("FETCH_ALLOWED_NETWORKS", "127.0.0.0/8", "list of networks in CIDR notation"),
        ("FETCH_ALLOWED_NETWORKS", ["127.0.0.0/33"], "127.0.0.0/33"),
        ("FETCH_ALLOWED_NETWORKS", ["localhost"], "'localhost'"),
        ("FETCH_ALLOWED_NETWORKS", [None], "None"),
        ("FETCH_ALLOWED_NETWORKS", ["10.0.0.1/8"], "has host bits set"),
    ],
)
def test_invalid_values_name_the_setting(key: str, value: Any, message: str) -> None:
    with (
        override_settings(POSTLOGIN={key: value}),
        pytest.raises(ImproperlyConfigured, match=rf"POSTLOGIN\['{key}'\].*{message}"),
    ):
        getattr(postlogin_settings, key)


def test_setting_must_be_a_dict() -> None:
    with (
        override_settings(POSTLOGIN=["AVATAR_SIZE"]),
        pytest.raises(ImproperlyConfigured, match="must be a dict"),
    ):
        postlogin_settings.AVATAR_SIZE  # noqa: B018


def test_fetch_defaults_allow_public_https_only(settings: Any) -> None:
    del settings.POSTLOGIN
    assert postlogin_settings.FETCH_ALLOW_HTTP is False
    assert postlogin_settings.FETCH_ALLOWED_NETWORKS == []
    assert postlogin_settings.FETCH_MAX_REDIRECTS == 3


def test_allowed_networks_take_addresses_and_both_ip_versions() -> None:
    from postlogin.addresses import allowed_networks

    networks = ["127.0.0.0/8", "10.1.2.3", "fd12:3456::/48"]
    with override_settings(POSTLOGIN={"FETCH_ALLOWED_NETWORKS": networks}):
        assert [str(n) for n in allowed_networks()] == [
            "127.0.0.0/8",
            "10.1.2.3/32",
            "fd12:3456::/48",
        ]
