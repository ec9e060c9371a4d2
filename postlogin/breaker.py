"""A per-process circuit breaker around publishing from the login request.

After a publish fails, logins in this process skip the broker for ``BROKER_COOLDOWN``
seconds and leave their jobs ``pending`` for the relay, so a broker outage costs one timeout
per process and cool-down instead of one per login. After the cool-down a single login probes
the broker again; success closes the circuit, failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time

from .conf import postlogin_settings


class CircuitBreaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until: float | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self) -> bool:
        """May this caller publish? While open, only one caller per cool-down probes."""
        with self._lock:
            if self._open_until is None:
                return True
            now = time.monotonic()
            if now < self._open_until:
                return False
            # Half-open: this caller probes; the others wait for its result.
            self._open_until = now + postlogin_settings.BROKER_COOLDOWN
            return True

    def record_failure(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + postlogin_settings.BROKER_COOLDOWN

    def record_success(self) -> None:
        with self._lock:
            self._open_until = None


publish_breaker = CircuitBreaker()
