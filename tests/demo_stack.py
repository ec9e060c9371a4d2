"""Start the demo exactly as `make demo` does (same launcher), on test ports and a temp folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from .helpers import stop_process, unused_port

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


@dataclass(frozen=True)
class DemoStack:
    web: str
    idp: str
    log: Path


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the demo exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


@contextmanager
def demo_stack(tmp_path: Path, **extra_env: str) -> Iterator[DemoStack]:
    web_port, idp_port = unused_port(), unused_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "POSTLOGIN_TEST_", "OIDC_"))
        and key not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
    }
    env.update(
        DEMO_WEB_PORT=str(web_port),
        DEMO_IDP_PORT=str(idp_port),
        DEMO_VAR_DIR=str(tmp_path / "var"),
        DEVIDP_AVATAR_DELAY="0.5",
        **extra_env,
    )
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "run_demo.py"],
            cwd=EXAMPLE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            stack = DemoStack(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{idp_port}", log)
            wait_for(f"{stack.idp}/o/.well-known/openid-configuration", process, log)
            wait_for(f"{stack.web}/", process, log)
            yield stack
        finally:
            # The launcher stops its children by their PIDs on SIGTERM.
            stop_process(process, timeout=30)
