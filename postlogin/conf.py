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

from . import kinds

SETTING_NAME = "POSTLOGIN"

DEFAULTS: dict[str, Any] = {
    # Job kinds scheduled on a user's first login (signup) and on every login.
    "SIGNUP_JOBS": (kinds.WELCOME_EMAIL,),
    "LOGIN_JOBS": (kinds.AVATAR,),
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
    "AVATAR_MAX_PIXELS": 16_000_000,
    "AVATAR_SIZE": 256,
    "AVATAR_FORMAT": "WEBP",
    "AVATAR_UPLOAD_TO": "avatars",
    # Welcome email: template prefix (``<prefix>_subject.txt``, ``.txt``, ``.html``) and sender.
    "WELCOME_EMAIL_TEMPLATE": "postlogin/email/welcome",
    "WELCOME_EMAIL_FROM": None,
    # Also welcome addresses that the provider (or allauth) did not verify (see postlogin.W009).
    "WELCOME_EMAIL_UNVERIFIED": False,
    # Onboarding gate: region (ISO 3166 code) for phone numbers written without +country code;
    # who must give a phone number ("new_users": accounts never logged in, or
    # "users_without_phone"); a terms URL adds an "I accept" checkbox; how long an unfinished
    # social-auth partial pipeline (which holds provider tokens) is kept, in seconds.
    "PHONE_REGION": None,
    "PHONE_REQUIRED_FOR": "new_users",
    "TERMS_URL": None,
    "PARTIAL_MAX_AGE": 1800,
    # Webhook endpoints: [{"name": "crm", "url": "https://...", "secret": "whsec_...",
    # "events": ["signup", "login"]}], each sent a signed message per login (Standard Webhooks).
    "WEBHOOKS": [],
    # Profile re-sync with stored tokens: profiles older than RESYNC_AFTER seconds, at most
    # RESYNC_BATCH_SIZE a run of postlogin.tasks.resync_stale.
    "RESYNC_AFTER": 86400,
    "RESYNC_BATCH_SIZE": 100,
    # Outbound rate limits per provider id (or "webhook:<name>"), e.g. {"github": "20/second"},
    # and where their budget is kept: a `limits` storage URI ("redis://..." to share it).
    "RATE_LIMITS": {},
    "RATE_LIMIT_STORAGE": "memory://",
    "RATE_LIMIT_HEADROOM": 0.3,
    # Celery: queue for postlogin tasks (None = the default queue), retry budget and backoff.
    "TASK_QUEUE": None,
    "MAX_RETRIES": 5,
    "RETRY_BACKOFF": 2,
    "RETRY_BACKOFF_MAX": 600,
    # After the database failed under a job: the longest wait before trying again (seconds).
    "DATABASE_RETRY_MAX": 8,
    # The ledger: how long a claimed job may run before its worker is presumed dead, when the
    # relay re-publishes pending jobs and unclaimed messages, and how much it takes a run.
    "JOB_LEASE": 300,
    "RELAY_PENDING_AFTER": 5,
    "RELAY_QUEUED_AFTER": 900,
    "RELAY_BATCH_SIZE": 200,
    # Pruning (the postlogin.prune task, manage.py postlogin prune): done jobs older than
    # PRUNE_DONE_AFTER seconds and failed jobs older than PRUNE_FAILED_AFTER are deleted,
    # PRUNE_BATCH_SIZE rows a transaction, at most PRUNE_MAX_BATCHES a run; "once" rows are kept.
    "PRUNE_DONE_AFTER": 30 * 86400,
    "PRUNE_FAILED_AFTER": 90 * 86400,
    "PRUNE_BATCH_SIZE": 1000,
    "PRUNE_MAX_BATCHES": 100,
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
    "DATABASE_RETRY_MAX",
    "JOB_LEASE",
    "RELAY_QUEUED_AFTER",
    "RELAY_BATCH_SIZE",
    "PARTIAL_MAX_AGE",
    "RESYNC_AFTER",
    "RESYNC_BATCH_SIZE",
    "PRUNE_DONE_AFTER",
    "PRUNE_FAILED_AFTER",
    "PRUNE_BATCH_SIZE",
    "PRUNE_MAX_BATCHES",
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
    region = values["PHONE_REGION"]
    if region is not None and not (isinstance(region, str) and len(region) == 2):
        fail("PHONE_REGION", "None or a two-letter ISO 3166 region code such as 'GB'")
    if values["PHONE_REQUIRED_FOR"] not in ("new_users", "users_without_phone"):
        fail("PHONE_REQUIRED_FOR", "'new_users' or 'users_without_phone'")
    terms = values["TERMS_URL"]
    if terms is not None and not (isinstance(terms, str) and terms):
        fail("TERMS_URL", "None or a URL")
    _validate_rate_limits(values, fail)
    _validate_webhooks(values["WEBHOOKS"])
    if not isinstance(values["PUBLISH_RETRY_POLICY"], Mapping):
        fail("PUBLISH_RETRY_POLICY", "a dict (kombu retry policy)")
    for key in ("FETCH_ALLOW_HTTP", "WELCOME_EMAIL_UNVERIFIED"):
        if not isinstance(values[key], bool):
            fail(key, "True or False")
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


def _validate_webhooks(webhooks: Any) -> None:
    from .webhooks import decode_secret

    where = f"settings.{SETTING_NAME}['WEBHOOKS']"
    if isinstance(webhooks, str | Mapping) or not hasattr(webhooks, "__iter__"):
        raise ImproperlyConfigured(f"{where} must be a list of endpoint dicts.")
    names: set[str] = set()
    for index, hook in enumerate(webhooks):
        at = f"{where}[{index}]"
        if not isinstance(hook, Mapping):
            raise ImproperlyConfigured(f"{at} must be a dict with name, url and secret.")
        missing = [key for key in ("name", "url", "secret") if not hook.get(key)]
        if missing:
            raise ImproperlyConfigured(f"{at} needs {', '.join(missing)}.")
        unknown = set(hook) - {"name", "url", "secret", "events"}
        if unknown:
            raise ImproperlyConfigured(f"{at} has unknown key(s): {', '.join(sorted(unknown))}.")
        if hook["name"] in names:
            raise ImproperlyConfigured(f"{at}: the name {hook['name']!r} is used twice.")
        names.add(hook["name"])
        if not str(hook["url"]).startswith(("https://", "http://")):
            raise ImproperlyConfigured(f"{at}['url'] must be an http(s) URL.")
        try:
            decode_secret(hook["secret"])
        except ValueError as exc:
            raise ImproperlyConfigured(f"{at}['secret']: {exc}.") from None
        events = hook.get("events", ("signup", "login"))
        if isinstance(events, str) or not set(events) <= {"signup", "login"}:
            raise ImproperlyConfigured(f"{at}['events'] must list 'signup' and/or 'login'.")


def _validate_rate_limits(values: Mapping[str, Any], fail: Any) -> None:
    from limits import parse

    limits = values["RATE_LIMITS"]
    if not isinstance(limits, Mapping):
        fail("RATE_LIMITS", 'a dict such as {"github": "20/second"}')
    for key, limit in limits.items():
        try:
            parse(limit)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"settings.{SETTING_NAME}['RATE_LIMITS'][{key!r}] must be a rate such as "
                f"'20/second' or '1000/hour'; got {limit!r}."
            ) from None
    headroom = values["RATE_LIMIT_HEADROOM"]
    if not (isinstance(headroom, int | float) and 0 <= headroom < 1):
        fail("RATE_LIMIT_HEADROOM", "a fraction from 0 (none) to below 1")
    storage = values["RATE_LIMIT_STORAGE"]
    if not (isinstance(storage, str) and "://" in storage):
        fail("RATE_LIMIT_STORAGE", "a limits storage URI such as 'redis://127.0.0.1:6379/0'")


postlogin_settings = PostloginSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        postlogin_settings.reload()
