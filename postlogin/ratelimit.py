"""Global per-provider rate limits for outbound calls, shared by every worker and host.

``POSTLOGIN["RATE_LIMITS"] = {"github": "20/second"}`` limits the calls jobs make to each
provider (and ``"webhook:<endpoint>"`` to each webhook endpoint). The budget lives in
``RATE_LIMIT_STORAGE`` (a ``limits`` storage URI): ``"redis://..."`` shares it across processes
and hosts; the default, ``"memory://"``, is per process (fine for the embedded demo). Celery's
own ``rate_limit`` is per worker, which is why this exists.

A moving window is used, so no span of the limit's period holds more calls than allowed, and the
calls are paced evenly across it rather than let go in bursts; and
``RATE_LIMIT_HEADROOM`` (default 30%) is kept below the configured rate, because calls that left
the workers evenly can still arrive bunched (scheduling and network jitter): with the headroom,
the receiving server does not see more than the configured rate either.

When the store cannot be reached (a Redis restart), no call goes: the job waits a period and
tries again, without using up its retries, and a warning says why. Failing open would let every
worker call the provider at once.
"""

from __future__ import annotations

import random
import threading
import time
from functools import cache

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .conf import postlogin_settings
from .scrub import get_logger, scrub

NAMESPACE = "postlogin"
_lock = threading.Lock()
logger = get_logger(__name__)
#: redis-py waits for ever by default: a Redis that accepts but never answers would hang every
#: job that checks a rate limit. Options in the URI's query string take precedence.
REDIS_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")


@cache
def _limiter(storage_uri: str) -> MovingWindowRateLimiter:
    # wrap_exceptions: any store's failure is a StorageError, whatever its client library.
    redis = storage_uri.lower().startswith(_REDIS_SCHEMES)
    options: dict[str, float] = REDIS_TIMEOUTS if redis else {}
    return MovingWindowRateLimiter(
        storage_from_string(storage_uri, wrap_exceptions=True, **options)
    )


@cache
def _item(limit: str, headroom: float) -> RateLimitItem:
    stated = parse(limit)
    amount = max(1, int(stated.amount * (1 - headroom)))
    return type(stated)(amount, stated.multiples)


def acquire(key: str) -> float:
    """Take one call from ``key``'s budget. Returns 0 if the call may go now, otherwise the
    seconds to wait before trying again (nothing was taken). Keys without a limit are free."""
    limit = postlogin_settings.RATE_LIMITS.get(key)
    if not limit:
        return 0.0
    item = _item(limit, postlogin_settings.RATE_LIMIT_HEADROOM)
    period = item.get_expiry()
    try:
        next_slot = _take(item, key, period)
    except StorageError as exc:
        # Fail closed: without the shared budget, calling would risk every worker at once.
        next_slot = time.time() + period
        logger.warning(
            "postlogin: rate-limit store %s unreachable (%s); %s calls wait",
            scrub(postlogin_settings.RATE_LIMIT_STORAGE),
            exc,
            key,
        )
    if next_slot <= 0:
        return 0.0
    # Spread the waiting calls over the next period instead of waking them all at the instant
    # a slot frees: they would arrive as one burst.
    spread = random.uniform(0, period)  # noqa: S311 (jitter, not security)
    return max(0.01, next_slot - time.time()) + spread


def _take(item: RateLimitItem, key: str, period: float) -> float:
    """Take a call if one is free now (returns 0), else when the next one may go."""
    with _lock:  # memory:// storage is not thread-safe on its own
        limiter = _limiter(postlogin_settings.RATE_LIMIT_STORAGE)
        stats = limiter.get_window_stats(item, NAMESPACE, key)
        next_slot = _paced_slot(item.amount, period, stats.reset_time, stats.remaining)
        if next_slot <= time.time():
            if limiter.hit(item, NAMESPACE, key):
                return 0.0
            # Another process took the window's last call meanwhile: wait for one to free.
            next_slot = limiter.get_window_stats(item, NAMESPACE, key).reset_time
    return next_slot


def _paced_slot(amount: int, period: float, reset_time: float, remaining: int) -> float:
    """When the next call may go: the window's calls are spaced evenly over its period.

    A moving window alone lets a whole window's calls go at once, and then again one period
    later: bursts that any delay on the way bunches into more than the limit at the receiver.
    The ``n``-th call of a window goes no sooner than ``n - 1`` intervals after its first.
    """
    used = amount - remaining
    if used <= 0:
        return 0.0
    first_call = reset_time - period
    return first_call + used * (period / amount)
