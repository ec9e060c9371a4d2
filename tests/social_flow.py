"""Drive a social-auth login through the real views, with the provider answered by `responses`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from django.test import Client

from .payloads import GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, GOOGLE_TOKEN, GOOGLE_USERINFO


def mock_google(rsps: responses.RequestsMock, userinfo: dict[str, Any] | None = None) -> None:
    rsps.post("https://accounts.google.com/o/oauth2/token", json=GOOGLE_TOKEN)
    rsps.get("https://www.googleapis.com/oauth2/v3/userinfo", json=userinfo or GOOGLE_USERINFO)


def mock_google_users(rsps: responses.RequestsMock, picture_url: Callable[[int], str]) -> None:
    """Google's token and userinfo endpoints; each userinfo call is a new user n = 1, 2, ..."""
    counter = iter(range(1, 10**6))
    lock = threading.Lock()

    def userinfo(request: Any) -> tuple[int, dict[str, str], str]:
        with lock:
            n = next(counter)
        body = {
            **GOOGLE_USERINFO,
            "sub": f"1000{n}",
            "email": f"user{n}@example.com",
            "name": f"User {n}",
            "picture": picture_url(n),
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    rsps.post("https://accounts.google.com/o/oauth2/token", json=GOOGLE_TOKEN)
    rsps.add_callback(responses.GET, "https://www.googleapis.com/oauth2/v3/userinfo", userinfo)


def mock_github(rsps: responses.RequestsMock) -> None:
    rsps.post("https://github.com/login/oauth/access_token", json=GITHUB_TOKEN)
    rsps.get("https://api.github.com/user", json=GITHUB_USER)
    rsps.get("https://api.github.com/user/emails", json=GITHUB_EMAILS)


def begin_login(client: Client, backend: str) -> Any:
    """POST begin (with a CSRF token): a redirect to the provider, carrying ``state``."""
    if "csrftoken" not in client.cookies:
        from django.middleware.csrf import _get_new_csrf_string

        client.cookies["csrftoken"] = _get_new_csrf_string()
    token = client.cookies["csrftoken"].value
    return client.post(f"/login/{backend}/", headers={"X-CSRFToken": token})


def complete_login(client: Client, backend: str, begin: Any) -> tuple[Any, float]:
    """GET complete with the state from ``begin``'s redirect; returns it and its seconds."""
    query = parse_qs(urlsplit(begin["Location"]).query)
    state = query["state"][0]
    started = time.monotonic()
    complete = client.get(f"/complete/{backend}/", {"code": "authorization-code", "state": state})
    return complete, time.monotonic() - started


def social_login(client: Client, backend: str) -> tuple[Any, float]:
    """POST begin, then GET complete with the state from the redirect.

    Returns the response of ``/complete/`` and how long that request took, in seconds.
    """
    begin = begin_login(client, backend)
    assert begin.status_code == 302, begin
    return complete_login(client, backend, begin)
