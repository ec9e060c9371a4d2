"""Real parts for tests: Celery apps per broker, a worker, loopback servers, service checks."""

from __future__ import annotations

import io
import os
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from PIL import Image

# Shared with the benchmarks; re-exported ("as" the same name), the tests import them from here.
from .support.processes import stop_process as stop_process
from .support.sockets import black_hole as black_hole
from .support.sockets import hung_server as hung_server
from .support.sockets import port_open as port_open
from .support.sockets import unused_port as unused_port

#: Broker options that bound every publish (see docs: a hung broker must not hang a login).
BOUNDED_BROKER_OPTIONS: dict[str, Any] = {
    "broker_connection_timeout": 1,
    "broker_transport_options": {
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "read_timeout": 1,
        "write_timeout": 1,
        "max_retries": 1,
    },
}

SERVICE_URLS = {
    "redis": os.environ.get("POSTLOGIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "amqp": os.environ.get("POSTLOGIN_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is missing on a laptop; fail under CI, where it must be there."""
    if port_open(host, port):
        return
    message = f"{name} is not answering on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: services must be running)")
    pytest.skip(message)


def require_postgresql() -> None:
    """Integration tests share rows between the test and worker threads: SQLite can't."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    message = "integration tests need PostgreSQL: set DATABASE_URL=postgres://..."
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true)")
    pytest.skip(message)


@contextmanager
def celery_app(broker_url: str, **conf: Any) -> Iterator[Celery]:
    """A Celery app on ``broker_url``, made current for the duration (shared tasks bind to it)."""
    from celery import _state

    import postlogin.tasks  # noqa: F401  (registers the shared tasks)

    # Before creating the app: Celery's Django fix-up makes the first app created the default
    # app for good, which the restore below would then restore.
    previous = _state.get_current_app()
    app = Celery("postlogin-tests", set_as_current=False)
    app.conf.update(
        broker_url=broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=False,
        broker_heartbeat=0,
        **BOUNDED_BROKER_OPTIONS,
    )
    app.conf.update(conf)
    app.set_current()
    app.set_default()
    try:
        yield app
    finally:
        previous.set_current()
        previous.set_default()
        app.close()


@contextmanager
def running_worker(app: Celery, *, concurrency: int = 2) -> Iterator[None]:
    """A real Celery worker consuming from ``app``'s broker in a thread of this process."""
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ):
        yield


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 20, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {predicate}")


class ScriptedHandler(BaseHTTPRequestHandler):
    """Answers GETs from ``server.script(path, hit_number) -> (status, headers, body)``."""

    def do_GET(self) -> None:
        server: ScriptedServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.hits.append(self.path)
            number = len(server.hits)
        status, headers, body = server.script(self.path, number)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Callable[[str, int], tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = script
        self.hits: list[str] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Run ``server`` in a thread of this process for the block; then stop and close it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def http_server(
    script: Callable[[str, int], tuple[int, dict[str, str], bytes]],
) -> Iterator[ScriptedServer]:
    """A loopback HTTP server driven by ``script``; stopped when the block ends."""
    server = ScriptedServer(script)
    with serving(server):
        yield server


@contextmanager
def worker_process(
    broker_url: str,
    env: dict[str, str],
    *,
    concurrency: int = 4,
    pool: str = "threads",
    database_url: str | None = None,
    beat_schedule_file: str | None = None,
    queues: str | None = None,
    output: Any = None,
) -> Iterator[Any]:
    """A Celery worker in its own process (so that it can be killed); stopped by its PID.

    It uses the test's database unless ``database_url`` names another; with
    ``beat_schedule_file`` it also runs beat (``POSTLOGIN_TEST_RELAY_EVERY`` sets the relay's
    period); ``queues`` (comma-separated) replaces the queues it consumes; ``output`` receives
    its stdout and stderr. With ``pool="prefork"`` its tasks run in child processes, which the
    worker replaces when one dies."""
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import quote

    from django.db import connection

    root = Path(__file__).resolve().parent.parent
    database = connection.settings_dict
    full_env = {
        **os.environ,
        **env,
        "POSTLOGIN_TEST_BROKER_URL": broker_url,
        "DATABASE_URL": database_url
        or "postgres://{}{}@{}:{}/{}".format(
            quote(database["USER"]),
            f":{quote(database['PASSWORD'])}" if database.get("PASSWORD") else "",
            database["HOST"] or "127.0.0.1",
            database["PORT"] or 5432,
            database["NAME"],
        ),
        "PYTHONPATH": str(root),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.worker_app",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *(["--beat", "--schedule", beat_schedule_file] if beat_schedule_file else []),
            *(["--queues", queues] if queues else []),
        ],
        cwd=root,
        env=full_env,
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
    try:
        yield process
    finally:
        stop_process(process, timeout=20)


def png(n: int) -> bytes:
    """A distinct small picture per user, so each one has its own content hash."""
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (n * 37 % 256, n * 91 % 256, n * 13 % 256)).save(out, "PNG")
    return out.getvalue()


def avatar_script(
    fail: Callable[[int], bool] = lambda hit: False, delay: float = 0.0
) -> Callable[[str, int], tuple[int, dict[str, str], bytes]]:
    def script(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        time.sleep(delay)
        if fail(hit):
            return 503, {"Content-Type": "text/plain"}, b"try later"
        return 200, {"Content-Type": "image/png"}, png(int(path.strip("/u.png") or 0))

    return script
