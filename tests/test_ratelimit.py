from typing import Any

import pytest

from postlogin import ratelimit


@pytest.fixture(autouse=True)
def fresh_memory_storage(settings: Any) -> None:
    ratelimit._limiter.cache_clear()


def test_calls_over_the_limit_wait_and_other_keys_are_free(settings: Any) -> None:
    settings.POSTLOGIN = {"RATE_LIMITS": {"github": "5/minute"}, "RATE_LIMIT_HEADROOM": 0}
    assert [ratelimit.acquire("github") for _ in range(5)] == [0.0] * 5
    wait = ratelimit.acquire("github")
    assert 50 < wait <= 120, "until a slot frees (up to a minute) plus up to a minute of spread"
    assert ratelimit.acquire("google") == 0.0


def test_headroom_keeps_a_margin_below_the_stated_rate(settings: Any) -> None:
    settings.POSTLOGIN = {"RATE_LIMITS": {"github": "10/minute"}}  # default headroom: 20%
    allowed = sum(1 for _ in range(12) if ratelimit.acquire("github") == 0.0)
    assert allowed == 8
