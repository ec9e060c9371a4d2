"""Fault: the rate-limit store (Redis) restarts, or hangs. Calls under a limit then wait (the job
is retried later, its retry budget untouched) and a warning names the store; none goes out
unmetered. When the store is back the budget is used again, without restarting anything."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from postlogin import ratelimit

from ..helpers import hung_server
from .servers import PrivateRedis


@pytest.fixture(autouse=True)
def fresh_limiters() -> None:
    ratelimit._limiter.cache_clear()


def limit_in(settings: Any, storage: str) -> None:
    settings.POSTLOGIN = {
        "RATE_LIMITS": {"webhook:crm": "2/second"},
        "RATE_LIMIT_HEADROOM": 0,
        "RATE_LIMIT_STORAGE": storage,
    }


def test_store_restart_calls_wait_then_resume(
    redis_server: PrivateRedis, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    limit_in(settings, redis_server.url)
    assert ratelimit.acquire("webhook:crm") == 0.0

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="postlogin.ratelimit"):
        waits = [ratelimit.acquire("webhook:crm") for _ in range(3)]
    assert all(wait > 0.5 for wait in waits), "no call goes while the budget is unknown"
    assert f"rate-limit store {redis_server.url} unreachable" in caplog.text

    redis_server.start()  # same port, empty: the window starts afresh
    assert ratelimit.acquire("webhook:crm") == 0.0


def test_hung_store_costs_its_socket_timeout(settings: Any) -> None:
    with hung_server() as port:
        # redis-py's own options in the URI bound every call to the store.
        limit_in(settings, f"redis://127.0.0.1:{port}/0?socket_timeout=1&socket_connect_timeout=1")
        started = time.monotonic()
        wait = ratelimit.acquire("webhook:crm")
    assert wait > 0.5
    assert time.monotonic() - started < 10, "bounded by the socket timeout"


def test_a_password_in_the_store_uri_is_not_logged(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from ..helpers import unused_port

    limit_in(settings, f"redis://:s3cret@127.0.0.1:{unused_port()}/0")
    with caplog.at_level(logging.WARNING, logger="postlogin.ratelimit"):
        assert ratelimit.acquire("webhook:crm") > 0
    assert "s3cret" not in caplog.text
    assert "[redacted]@127.0.0.1" in caplog.text
