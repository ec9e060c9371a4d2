"""The HTTP client that logs in: one social login through the real views, timed by the client.

A login is the flow of social-auth's generic ``oidc`` backend: POST ``/login/oidc/`` (with a
CSRF cookie and header, as from the page with the sign-in button), read ``state`` and ``nonce``
from the redirect, then GET ``/complete/oidc/`` with a code the provider accepts (the
provider's own sign-in page is skipped). ``bench/instrument.py`` adds response headers that say
which process served ``/complete/`` and what it did; they are copied into the :class:`Sample`.
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

from ..fake_idp import make_code

BACKEND = "oidc"
LOGIN_REDIRECT = "/profile/"


@dataclass
class Sample:
    """One login as the client saw it, plus what the server said about its /complete/."""

    variant: str
    round: int
    user: str
    started_s: float
    ok: bool
    login_ms: float | None = None
    complete_ms: float | None = None
    error: str = ""
    pid: int | None = None
    server_ms: float | None = None
    server_cpu_ms: float | None = None
    publish_attempts: int = 0
    publish_failures: int = 0
    publish_ms: float = 0.0

    def read_headers(self, headers: http.client.HTTPMessage) -> None:
        """Copy the ``X-Bench-*`` headers of the /complete/ response, when present."""
        if not headers.get("X-Bench-Pid"):
            return
        self.pid = int(headers["X-Bench-Pid"])
        self.server_ms = float(headers["X-Bench-Server-Ms"])
        self.server_cpu_ms = float(headers["X-Bench-Cpu-Ms"])
        attempts, failures, ms = headers["X-Bench-Publish"].split()
        self.publish_attempts, self.publish_failures = int(attempts), int(failures)
        self.publish_ms = float(ms)


def _cookies(message: http.client.HTTPMessage, jar: dict[str, str]) -> None:
    for header in message.get_all("Set-Cookie") or []:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            jar[name] = morsel.value


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


class LoginError(Exception):
    """A login step that did not answer as a successful login does; the message says which."""


class LoginClient:
    """Drives one social login at a time against ``127.0.0.1:port`` (a new connection each)."""

    def __init__(self, port: int, *, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout

    def _request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response
        finally:
            conn.close()

    def begin(self, jar: dict[str, str]) -> tuple[str, str]:
        """POST the sign-in button's form; the ``state`` and ``nonce`` of the redirect."""
        response = self._request(
            "POST",
            f"/login/{BACKEND}/",
            {
                "Cookie": _cookie_header(jar),
                "X-CSRFToken": jar["csrftoken"],
                "Content-Type": "application/x-www-form-urlencoded",
            },
            b"",
        )
        if response.status != 302:
            raise LoginError(f"begin: HTTP {response.status}")
        _cookies(response.headers, jar)
        query = parse_qs(urlsplit(response.headers.get("Location", "")).query)
        return query["state"][0], query["nonce"][0]

    def complete(self, jar: dict[str, str], code: str, state: str) -> http.client.HTTPResponse:
        """GET the callback with the provider's code, as the browser would after sign-in."""
        path = f"/complete/{BACKEND}/?{urlencode({'code': code, 'state': state})}"
        return self._request("GET", path, {"Cookie": _cookie_header(jar)})

    def login(self, variant: str, round_: int, user: str, t0: float, picture: bool) -> Sample:
        """One login of ``user``; never raises: a failure is a sample with ``ok`` False."""
        # The CSRF cookie comes from the page with the sign-in button, before the login starts.
        jar = {"csrftoken": secrets.token_hex(16)}
        started = time.perf_counter()
        sample = Sample(variant, round_, user, round(started - t0, 3), ok=False)
        try:
            state, nonce = self.begin(jar)
            complete_started = time.perf_counter()
            response = self.complete(jar, make_code(user, nonce, picture=picture), state)
            finished = time.perf_counter()
        except LoginError as exc:
            sample.error = str(exc)
            return sample
        except (OSError, http.client.HTTPException, KeyError, IndexError) as exc:
            sample.error = f"{type(exc).__name__}: {exc}"[:200]
            return sample
        sample.login_ms = round((finished - started) * 1000, 2)
        sample.complete_ms = round((finished - complete_started) * 1000, 2)
        sample.read_headers(response.headers)
        location = urlsplit(response.headers.get("Location", "")).path
        sample.ok = response.status == 302 and location == LOGIN_REDIRECT
        if not sample.ok:
            sample.error = f"complete: HTTP {response.status} to {location!r}"
        return sample


def run_logins(
    client: LoginClient,
    variant: str,
    round_: int,
    users: Sequence[str],
    *,
    concurrency: int,
    t0: float,
    deadline: float,
    picture: bool = True,
) -> list[Sample]:
    """``users`` log in, ``concurrency`` at a time, until done or ``deadline`` (monotonic)."""
    samples: list[Sample] = []
    pending = list(reversed(users))
    lock = threading.Lock()

    def work() -> None:
        while time.monotonic() < deadline:
            with lock:
                if not pending:
                    return
                user = pending.pop()
            sample = client.login(variant, round_, user, t0, picture)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + client.timeout + 5))
    return samples
