"""The example's local OpenID Connect provider (example/devidp), run as its own server, and a
user signing in at it over plain HTTP."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from ..demo_stack import EXAMPLE, wait_for
from ..helpers import unused_port

#: Where allauth, behind Django's test client, asks the provider to send the browser back.
CALLBACK = "http://testserver/accounts/oidc/devidp/login/callback/"
PASSWORD = "demo-password"


@contextmanager
def local_idp(var_dir: Path) -> Iterator[str]:
    """Start the provider on a free port; yields its issuer URL (``http://127.0.0.1:<port>/o``)."""
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
        DEVIDP_REDIRECT_URIS=CALLBACK,
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
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def sign_in_at_idp(authorize_url: str, username: str) -> dict[str, str]:
    """Open the authorization URL, sign in with the password, follow the provider's redirects
    like a browser; returns the query of the redirect back to the app (code and state)."""
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
        if location.startswith(CALLBACK):
            return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        response = session.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider never sent the browser back to {CALLBACK}")
