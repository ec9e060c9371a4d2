"""A local Standard Webhooks receiver that verifies every message with the reference library,
and the settings and signups that send it webhooks (for the webhook delivery and fault tests)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks

from postlogin import dispatch
from postlogin.events import LoginEvent, ProviderProfile

from .helpers import serving
from .settings import TEST_POSTLOGIN

SECRET = "whsec_" + base64.b64encode(b"crm-receiver-secret-of-32-bytes!").decode()
Reply = tuple[int, dict[str, str]]


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reply: Callable[[str, int], Reply]) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.reply = reply
        self.deliveries: list[tuple[float, str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/crm"


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: Receiver = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        arrived = time.monotonic()
        headers: dict[str, str] = {}
        try:
            payload = standardwebhooks.Webhook(SECRET).verify(body, dict(self.headers))
        except standardwebhooks.WebhookVerificationError:
            status = 401
        else:
            with server.lock:
                server.deliveries.append((arrived, self.headers["webhook-id"], payload))
                attempt = sum(1 for d in server.deliveries if d[1] == self.headers["webhook-id"])
            status, headers = server.reply(self.headers["webhook-id"], attempt)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiver(reply: Callable[[str, int], Reply]) -> Iterator[Receiver]:
    """A Standard Webhooks receiver on loopback; ``reply(webhook_id, attempt)`` answers."""
    server = Receiver(reply)
    with serving(server):
        yield server


def webhook_settings(url: str, **extra: Any) -> dict[str, Any]:
    return {
        **TEST_POSTLOGIN,
        "LOGIN_JOBS": [],
        "SIGNUP_JOBS": [],
        "WEBHOOKS": [{"name": "crm", "url": url, "secret": SECRET, "events": ["signup"]}],
        "RETRY_BACKOFF": 0,
        "RETRY_BACKOFF_MAX": 2,
        "RELAY_PENDING_AFTER": 0,
        **extra,
    }


def signup(user: Any) -> list[int]:
    event = LoginEvent(
        user_id=user.pk,
        provider="oidc",
        is_new=True,
        profile=ProviderProfile(uid="u1", email=user.email, email_verified=True, name="Ada"),
    )
    return dispatch.dispatch(event)
