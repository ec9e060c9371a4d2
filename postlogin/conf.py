"""The one settings namespace, ``settings.POSTLOGIN``.

Read values as attributes of :data:`postlogin_settings`::

    from postlogin.conf import postlogin_settings
    postlogin_settings.AVATAR_SIZE

Unknown keys are rejected, so a typo fails loudly instead of being ignored, and the
object reloads on ``setting_changed`` so that ``override_settings`` works in tests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "POSTLOGIN"

DEFAULTS: dict[str, Any] = {
    # Job kinds scheduled on a user's first login (signup) and on every login.
    "SIGNUP_JOBS": ("welcome_email",),
    "LOGIN_JOBS": ("avatar",),
    # Outbound HTTP: (connect, read) timeouts in seconds, and the identifying User-Agent.
    "HTTP_TIMEOUT": (3.05, 10.0),
    "HTTP_USER_AGENT": "django-postlogin",
    # Outbound HTTP guard (see docs/security.md): plain http, networks reachable despite being
    # loopback/private/link-local (CIDR strings), and how many redirects one fetch follows.
    "FETCH_ALLOW_HTTP": False,
    "FETCH_ALLOWED_NETWORKS": [],
    "FETCH_MAX_REDIRECTS": 3,
    # Avatars: download cap, decoded pixel cap, output square size and format.
    "AVATAR_MAX_BYTES": 5 * 1024 * 1024,
    "AVATAR_MAX_PIXELS": 40_000_000,
    "AVATAR_SIZE": 256,
    "AVATAR_FORMAT": "WEBP",
    "AVATAR_UPLOAD_TO": "avatars",
    # Welcome email: template prefix (``<prefix>_subject.txt``, ``.txt``, ``.html``) and sender.
    "WELCOME_EMAIL_TEMPLATE": "postlogin/email/welcome",
    "WELCOME_EMAIL_FROM": None,
    # Celery: queue for postlogin tasks (None = the default queue), retry budget and backoff.
    "TASK_QUEUE": None,
    "MAX_RETRIES": 5,
    "RETRY_BACKOFF": 2,
    "RETRY_BACKOFF_MAX": 600,
    # The ledger: how long a claimed job may run before its worker is presumed dead, when the
    # relay re-publishes pending jobs and unclaimed messages, and how much it takes a run.
    "JOB_LEASE": 300,
    "RELAY_PENDING_AFTER": 5,
    "RELAY_QUEUED_AFTER": 900,
    "RELAY_BATCH_SIZE": 200,
    # After a failed publish, logins in that process skip the broker this many seconds.
    "BROKER_COOLDOWN": 30,
    # Publishing from the login request: kombu retry policy, kept short on purpose.
    "PUBLISH_RETRY_POLICY": {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    },
}

#: Settings that must be positive integers.
_POSITIVE_INTS = (
    "AVATAR_MAX_BYTES",
    "AVATAR_MAX_PIXELS",
    "AVATAR_SIZE",
    "RETRY_BACKOFF_MAX",
    "JOB_LEASE",
    "RELAY_QUEUED_AFTER",
    "RELAY_BATCH_SIZE",
)
_NON_NEGATIVE_INTS = (
    "MAX_RETRIES",
    "RETRY_BACKOFF",
    "RELAY_PENDING_AFTER",
    "BROKER_COOLDOWN",
    "FETCH_MAX_REDIRECTS",
)
_AVATAR_FORMATS = ("WEBP", "JPEG", "PNG")


class PostloginSettings:
    """Attribute access to ``settings.POSTLOGIN`` merged over :data:`DEFAULTS`."""

    def __init__(self, defaults: Mapping[str, Any] | None = None) -> None:
        self.defaults = dict(defaults if defaults is not None else DEFAULTS)
        self._cached: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, SETTING_NAME, {})
        if not isinstance(value, Mapping):
            raise ImproperlyConfigured(f"settings.{SETTING_NAME} must be a dict.")
        return dict(value)

    def _load(self) -> dict[str, Any]:
        if self._cached is None:
            user = self.user_settings
            unknown = sorted(set(user) - set(self.defaults))
            if unknown:
                raise ImproperlyConfigured(
                    f"Unknown key(s) in settings.{SETTING_NAME}: {', '.join(unknown)}. "
                    f"Valid keys: {', '.join(sorted(self.defaults))}."
                )
            merged = {**self.defaults, **user}
            _validate(merged)
            self._cached = merged
        return self._cached

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"Invalid {SETTING_NAME} setting: {name!r}")
        return self._load()[name]

    def reload(self) -> None:
        self._cached = None


def _validate(values: Mapping[str, Any]) -> None:
    def fail(key: str, expected: str) -> NoReturn:
        raise ImproperlyConfigured(
            f"settings.{SETTING_NAME}[{key!r}] must be {expected}; got {values[key]!r}."
        )

    for key in _POSITIVE_INTS:
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] <= 0:
            fail(key, "a positive integer")
    for key in _NON_NEGATIVE_INTS:
        if not isinstance(values[key], int) or isinstance(values[key], bool) or values[key] < 0:
            fail(key, "an integer >= 0")
    for key in ("SIGNUP_JOBS", "LOGIN_JOBS"):
        jobs = values[key]
        if isinstance(jobs, str) or not all(isinstance(kind, str) for kind in jobs):
            fail(key, "a list of job kind names")
    timeout = values["HTTP_TIMEOUT"]
    if not (
        isinstance(timeout, tuple | list)
        and len(timeout) == 2
        and all(isinstance(t, int | float) and t > 0 for t in timeout)
    ):
        fail("HTTP_TIMEOUT", "a (connect, read) pair of positive numbers of seconds")
    if str(values["AVATAR_FORMAT"]).upper() not in _AVATAR_FORMATS:
        fail("AVATAR_FORMAT", f"one of {', '.join(_AVATAR_FORMATS)}")
    if not isinstance(values["PUBLISH_RETRY_POLICY"], Mapping):
        fail("PUBLISH_RETRY_POLICY", "a dict (kombu retry policy)")
    if not isinstance(values["FETCH_ALLOW_HTTP"], bool):
        fail("FETCH_ALLOW_HTTP", "True or False")
    _validate_networks(values["FETCH_ALLOWED_NETWORKS"], fail)


def _validate_networks(networks: Any, fail: Callable[[str, str], NoReturn]) -> None:
    expected = 'a list of networks in CIDR notation, such as ["127.0.0.0/8"]'
    if isinstance(networks, str) or not isinstance(networks, list | tuple):
        fail("FETCH_ALLOWED_NETWORKS", expected)
    for network in networks:
        try:
            # strict: "10.0.0.1/8" is refused rather than silently widened to 10.0.0.0/8.
            ipaddress.ip_network(network, strict=True)
        except (TypeError, ValueError) as exc:
            fail("FETCH_ALLOWED_NETWORKS", f"{expected} ({network!r}: {exc})")


postlogin_settings = PostloginSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        postlogin_settings.reload()
