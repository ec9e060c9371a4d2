"""The example's local OpenID Connect provider (example/devidp), run as its own server, and a
user signing in at it over plain HTTP, for tests that need a real provider."""

from __future__ import annotations

import html
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from .demo_stack import EXAMPLE, wait_for
from .helpers import stop_process, unused_port

CLIENT_ID = "postlogin-demo"
CLIENT_SECRET = "postlogin-demo-secret"
PASSWORD = "demo-password"


@contextmanager
def devidp(var_dir: Path, redirect_uri: str) -> Iterator[str]:
    """Start the provider on a free port, with ``redirect_uri`` registered for the demo client;
    yields its issuer URL (``http://127.0.0.1:<port>/o``). Stopped by its PID afterwards."""
    port = unused_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DEVIDP_", "OIDC_", "POSTLOGIN_TEST_"))
        and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="devidp.settings",
        DEMO_VAR_DIR=str(var_dir),
        DEMO_IDP_PORT=str(port),
        DEVIDP_REDIRECT_URIS=redirect_uri,
        DEVIDP_AVATAR_DELAY="0",
    )
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v", "0"], ["devidp_setup"]):
        subprocess.run([*manage, *command], cwd=EXAMPLE, env=env, check=True, capture_output=True)
    log = var_dir / "devidp.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=EXAMPLE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            issuer = f"http://127.0.0.1:{port}/o"
            wait_for(f"{issuer}/.well-known/openid-configuration", process, log)
            yield issuer
        finally:
            stop_process(process, timeout=10)


def sign_in_at_idp(authorize_url: str, username: str, callback: str) -> dict[str, str]:
    """Open the authorization URL, sign in with the password and follow the provider's
    redirects like a browser, stopping at the one back to the app (``callback``: the test
    client's host is never looked up); returns that redirect's query (code and state)."""
    session = requests.Session()
    page = session.get(authorize_url, timeout=10)
    assert urlsplit(page.url).path == "/accounts/login/", page.url
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'name="(csrfmiddlewaretoken|next)" value="([^"]*)"', page.text
        )
    }
    response = session.post(
        page.url,
        data={**fields, "username": username, "password": PASSWORD},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=10,
    )
    for _ in range(5):
        assert response.status_code == 302, response.text[:500]
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(callback):
            return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        response = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider never sent the browser back to {callback}")


def expire_access_tokens(var_dir: Path) -> None:
    """As time would: every access token the provider issued is now past its expiry."""
    with sqlite3.connect(var_dir / "devidp.sqlite3") as db:
        db.execute("UPDATE oauth2_provider_accesstoken SET expires = '2000-01-01 00:00:00'")


def revoke(issuer: str, token: str, kind: str) -> None:
    """RFC 7009 token revocation at the provider (``kind``: access_token or refresh_token)."""
    requests.post(
        f"{issuer}/revoke_token/",
        data={"token": token, "token_type_hint": kind},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    ).raise_for_status()
