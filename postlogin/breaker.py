"""A per-process circuit breaker around publishing from the login request.

After a publish fails, logins in this process skip the broker for ``BROKER_COOLDOWN``
seconds and leave their jobs ``pending`` for the relay, so a broker outage costs one timeout
per process instead of one per login. After the cool-down a single caller probes the broker
again (:mod:`postlogin.publish` does it in a background thread, so that no login waits on a
broker that may still hang); success closes the circuit, failure opens it for another
cool-down.
"""

from __future__ import annotations

import threading
import time

from .conf import postlogin_settings

#: What :meth:`CircuitBreaker.acquire` tells a caller to do.
PUBLISH, PROBE, SKIP = "publish", "probe", "skip"


class CircuitBreaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def acquire(self) -> str:
        """``PUBLISH`` (closed), ``SKIP`` (open), or ``PROBE``: the cool-down is over and this
        caller, alone until it reports, is to try the broker."""
        with self._lock:
            if self._open_until is None:
                return PUBLISH
            now = time.monotonic()
            if now < self._open_until:
                return SKIP
            # Half-open: this caller probes; the others skip until its result.
            self._open_until = now + postlogin_settings.BROKER_COOLDOWN
            return PROBE

    def record_failure(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + postlogin_settings.BROKER_COOLDOWN

    def record_success(self) -> None:
        with self._lock:
            self._open_until = None


publish_breaker = CircuitBreaker()
