#!/usr/bin/env python
"""Run the whole demo: migrate, then the web app, a Celery worker and beat, until Ctrl-C.

Every process is a child of this one and is stopped, by its PID, when this one stops.
Ports and the data folder come from the environment (DEMO_WEB_PORT, DEMO_VAR_DIR).
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


def processes(web_port: int) -> dict[str, list[str]]:
    """The demo's processes, by name (the equivalent of a Procfile)."""
    celery = [PYTHON, "-m", "celery", "-A", "proj"]
    return {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"],
        # Threads: the jobs wait on the network, not on the CPU.
        "worker": [
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
        "beat": [*celery, "beat", "--loglevel", "INFO"],
    }


def pipe_output(name: str, process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"{name:>7} | {line}")
        sys.stdout.flush()


def run_setup(env: dict[str, str]) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=EXAMPLE_DIR,
        env=env,
        check=True,
    )


def main() -> int:
    web_port = int(os.environ.get("DEMO_WEB_PORT", "8000"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "proj.settings"}
    run_setup(env)

    children: dict[str, subprocess.Popen[str]] = {}
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, command in processes(web_port).items():
        child = subprocess.Popen(
            command,
            cwd=EXAMPLE_DIR,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        children[name] = child
        threading.Thread(target=pipe_output, args=(name, child), daemon=True).start()

    print(
        f"\n  django-postlogin demo is running: open http://127.0.0.1:{web_port}/\n"
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
