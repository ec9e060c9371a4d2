import itertools
import threading
import time
from typing import Any

import pytest

from postlogin import ratelimit

from .helpers import hung_server


@pytest.fixture(autouse=True)
def fresh_memory_storage(settings: Any) -> None:
    ratelimit._limiter.cache_clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock the test moves (read by postlogin and by the ``limits`` memory storage)."""
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def admitted_times(key: str, clock: list[float], *, seconds: float, step: float) -> list[float]:
    """Try a call every ``step`` seconds for ``seconds``; the times the calls were let go."""
    start = clock[0]
    admitted = []
    while clock[0] - start < seconds:
        if ratelimit.acquire(key) == 0.0:
            admitted.append(clock[0] - start)
        clock[0] += step
    return admitted


def test_calls_are_paced_evenly_and_other_keys_are_free(settings: Any, clock: list[float]) -> None:
    settings.POSTLOGIN = {"RATE_LIMITS": {"github": "5/minute"}, "RATE_LIMIT_HEADROOM": 0}
    assert ratelimit.acquire("github") == 0.0
    wait = ratelimit.acquire("github")
    assert 12 <= wait <= 72, "until the next paced slot (12 s) plus up to a period of spread"
    assert ratelimit.acquire("google") == 0.0

    admitted = admitted_times("github", clock, seconds=300, step=0.5)
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    assert min(gaps) >= 12 - 0.5, gaps
    assert 24 <= len(admitted) <= 26, "5 a minute"


def test_no_window_holds_more_than_the_limit_less_the_headroom(
    settings: Any, clock: list[float]
) -> None:
    settings.POSTLOGIN = {"RATE_LIMITS": {"github": "10/minute"}}  # default headroom: 30%
    admitted = admitted_times("github", clock, seconds=600, step=0.25)
    busiest = max(
        sum(1 for t in admitted[i:] if t < start + 60) for i, start in enumerate(admitted)
    )
    assert busiest == 7
    assert 69 <= len(admitted) <= 71, "7 a minute, evenly"


def test_a_redis_that_never_answers_does_not_hang_the_job(settings: Any) -> None:
    outcome: list[BaseException | float] = []

    def check() -> None:
        try:
            outcome.append(ratelimit.acquire("github"))
        except Exception as exc:
            outcome.append(exc)

    with hung_server() as port:
        settings.POSTLOGIN = {
            "RATE_LIMITS": {"github": "5/second"},
            "RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{port}/0",
        }
        caller = threading.Thread(target=check, daemon=True)
        caller.start()
        caller.join(timeout=20)  # the socket timeouts are 2 s each
        finished = not caller.is_alive()
    caller.join(timeout=5)  # on a hang, the server's closing ends it
    assert finished, "acquire() was still waiting for Redis"
    # The store timed out: the call is not let through unmetered, it waits a period.
    [wait] = outcome
    assert isinstance(wait, float), wait
    assert wait > 0
