#!/usr/bin/env python
"""Run the whole demo until Ctrl-C: the local identity provider, the web app, a Celery worker
and beat, on embedded defaults (SQLite database, SQLite-backed broker, local media folder).

Every process is a child of this one and is stopped, by its PID, when this one stops.
Environment: DEMO_WEB_PORT (8000), DEMO_IDP_PORT (8001), DEMO_VAR_DIR (example/var), and
everything example/proj/settings.py reads (DEMO_AUTH=allauth for django-allauth instead of
social-auth-app-django, DATABASE_URL, CELERY_BROKER_URL or REDIS_URL,
OIDC_ENDPOINT/OIDC_CLIENT_ID/OIDC_CLIENT_SECRET for another provider...); every process gets
the same environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

EXAMPLE_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
DEMO_USERS = "ada, alan or grace"


def demo_environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("DEMO_WEB_PORT", "8000")
    env.setdefault("DEMO_IDP_PORT", "8001")
    env.setdefault("DEMO_VAR_DIR", str(EXAMPLE_DIR / "var"))
    # Unless another provider is configured, sign in through the local one.
    if "OIDC_ENDPOINT" not in env:
        env["OIDC_ENDPOINT"] = f"http://127.0.0.1:{env['DEMO_IDP_PORT']}/o"
        env.setdefault("OIDC_CLIENT_ID", "postlogin-demo")
        env.setdefault("OIDC_CLIENT_SECRET", "postlogin-demo-secret")
        env["DEMO_LOCAL_IDP"] = "1"
    return env


def processes(env: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The demo's processes, by name, with their environment (the equivalent of a Procfile)."""
    app = {**env, "DJANGO_SETTINGS_MODULE": "proj.settings"}
    idp = {**env, "DJANGO_SETTINGS_MODULE": "devidp.settings"}
    celery = [PYTHON, "-m", "celery", "-A", "proj"]
    web_address = f"127.0.0.1:{env['DEMO_WEB_PORT']}"
    idp_address = f"127.0.0.1:{env['DEMO_IDP_PORT']}"
    table = {
        "idp": ([PYTHON, "manage.py", "runserver", idp_address, "--noreload"], idp),
        "web": ([PYTHON, "manage.py", "runserver", web_address, "--noreload"], app),
        # Threads: the jobs wait on the network, not on the CPU.
        "worker": (
            [
                *celery,
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "8",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            app,
        ),
        "beat": ([*celery, "beat", "--loglevel", "INFO"], app),
    }
    if "DEMO_LOCAL_IDP" not in env:
        del table["idp"]
    return table


def set_up(env: dict[str, str]) -> None:
    def manage(settings_module: str, *args: str) -> None:
        subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=EXAMPLE_DIR,
            env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
            check=True,
        )

    manage("proj.settings", "migrate", "--noinput", "-v", "0")
    if "DEMO_LOCAL_IDP" in env:
        manage("devidp.settings", "migrate", "--noinput", "-v", "0")
        manage("devidp.settings", "devidp_setup")


def pipe_output(name: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"{name:>7} | {line}")
        sys.stdout.flush()


def main() -> int:
    env = demo_environment()
    set_up(env)

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children: dict[str, subprocess.Popen[str]] = {}
    for name, (command, child_env) in processes(env).items():
        child = subprocess.Popen(
            command,
            cwd=EXAMPLE_DIR,
            env=child_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        children[name] = child
        threading.Thread(target=pipe_output, args=(name, child), daemon=True).start()

    login_hint = (
        f"  Sign in as {DEMO_USERS}, password demo-password.\n" if "DEMO_LOCAL_IDP" in env else ""
    )
    stack = "django-allauth" if env.get("DEMO_AUTH") == "allauth" else "social-auth-app-django"
    print(
        f"\n  django-postlogin demo ({stack}) is running: "
        f"open http://127.0.0.1:{env['DEMO_WEB_PORT']}/\n"
        f"{login_hint}"
        "  Press Ctrl-C to stop every process.\n",
        flush=True,
    )
    exit_code = 0
    while not stopping.is_set():
        for name, child in children.items():
            if child.poll() is not None:
                print(f"demo: {name} exited with {child.returncode}; stopping", flush=True)
                exit_code = 1
                stopping.set()
        stopping.wait(0.5)

    for child in children.values():
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
