"""The example's local OpenID Connect provider, alone, for tests that need a real provider."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .demo_stack import EXAMPLE, wait_for
from .helpers import unused_port

CLIENT_ID = "postlogin-demo"
CLIENT_SECRET = "postlogin-demo-secret"


@contextmanager
def devidp(tmp_path: Path, redirect_uri: str = "http://testserver/complete/oidc/") -> Iterator[str]:
    """Start the provider on a free port; yields its issuer URL (``http://127.0.0.1:N/o``)."""
    port = unused_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "POSTLOGIN_TEST_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="devidp.settings",
        DEMO_VAR_DIR=str(tmp_path),
        DEMO_IDP_PORT=str(port),
        DEVIDP_REDIRECT_URIS=redirect_uri,
        DEVIDP_AVATAR_DELAY="0",
    )

    def manage(*args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env, check=True,
            capture_output=True,
        )  # fmt: skip

    manage("migrate", "--noinput")
    manage("devidp_setup")
    log = tmp_path / "devidp.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
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
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
