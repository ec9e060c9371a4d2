"""What every benchmark shares: services, databases, child processes, the machine.

Statistics live in :mod:`bench.stats`; the loopback sockets and the stopping of child processes
come from :mod:`tests.support`, shared with the test suite.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from tests.support.processes import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
RESULTS = ROOT / "bench" / "results"

#: Where the benchmarks look for services. PostgreSQL: any database on the server will do for
#: creating and dropping the benchmark's own databases. Redis: a database number of our own.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
#: Every benchmark publishes to its own queue, purged before and after.
TASK_QUEUE = "postlogin-bench"


# --- services --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    """What this run uses: PostgreSQL and Redis when they answer, else the embedded defaults."""

    postgres_url: str | None
    postgres_version: str | None
    redis_url: str | None
    redis_version: str | None

    @property
    def database(self) -> str:
        return f"postgresql {self.postgres_version}" if self.postgres_url else "sqlite"

    @property
    def broker(self) -> str:
        return f"redis {self.redis_version}" if self.redis_url else "sqlalchemy (sqlite)"

    def describe(self) -> dict[str, str]:
        return {"database": self.database, "broker": self.broker}


def detect_services() -> Services:
    """Probe PostgreSQL and Redis; ``BENCH_EMBEDDED=1`` uses SQLite and the SQL broker anyway."""
    if os.environ.get("BENCH_EMBEDDED", "").lower() in ("1", "true", "yes"):
        return Services(None, None, None, None)
    pg_url: str | None = None
    pg_version: str | None = None
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg_version = str(row[0]).split()[0] if row else "?"
            pg_url = POSTGRES_URL
    except Exception:  # any failure means: not available, use SQLite
        pg_url = None
    redis_url: str | None = None
    redis_version: str | None = None
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        redis_version = str(client.info("server").get("redis_version", "?"))
        redis_url = REDIS_URL
        client.close()
    except Exception:
        redis_url = None
    return Services(pg_url, pg_version, redis_url, redis_version)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def bench_database(services: Services, name: str, workdir: Path) -> Iterator[str]:
    """A fresh database of our own for the duration; yields its ``DATABASE_URL``.

    PostgreSQL: ``name`` is created (dropped first if a previous run left it) and dropped at
    the end. SQLite: a file in ``workdir``.
    """
    if services.postgres_url is None:
        path = workdir / f"{name}.sqlite3"

        def remove() -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        remove()
        try:
            yield f"sqlite:///{path}"
        finally:
            remove()
        return
    import psycopg
    from psycopg import sql

    def run(statement: sql.Composed) -> None:
        assert services.postgres_url is not None
        with psycopg.connect(services.postgres_url, autocommit=True) as conn:
            conn.execute(statement)

    database = sql.Identifier(name)
    run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
    run(sql.SQL("CREATE DATABASE {}").format(database))
    try:
        yield _with_database(services.postgres_url, name)
    finally:
        run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))


def broker_url(services: Services, workdir: Path) -> str:
    if services.redis_url is not None:
        return services.redis_url
    return f"sqla+sqlite:///{workdir / 'broker.sqlite3'}"


def purge_queue(url: str, queue: str) -> int:
    """Remove every message waiting in ``queue`` (our own queue only; nothing else is touched)."""
    import kombu

    api: Any = kombu  # kombu's names are untyped
    try:
        with api.Connection(url, connect_timeout=2, transport_options={"max_retries": 1}) as conn:
            bound = api.Queue(queue).bind(conn.default_channel)
            bound.declare()
            return int(bound.purge() or 0)
    except Exception as exc:  # a failed purge must not hide the results
        print(f"bench: could not purge queue {queue!r}: {exc}", file=sys.stderr)
        return 0


def django_environment(
    *,
    database_url: str,
    broker: str,
    var_dir: Path,
    variant: str = "offload",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for the example project under ``bench.settings_variants``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "POSTLOGIN_JSON")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings_variants",
        BENCH_VARIANT=variant,
        BENCH_TASK_QUEUE=TASK_QUEUE,
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker,
        DEMO_VAR_DIR=str(var_dir),
        DJANGO_DEBUG="0",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process with ``env`` (from :func:`django_environment`)."""
    os.environ.update(env)
    for path in (str(EXAMPLE), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import django

    django.setup()


# --- processes -------------------------------------------------------------------------------


class Children:
    """Child processes, each in its own process group, stopped by their PIDs on exit."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[TextIO] = []

    def start(
        self, name: str, command: list[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> subprocess.Popen[bytes]:
        out = log.open("w")
        self._logs.append(out)
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def stop(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        stop_process_group(process, timeout)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        for out in self._logs:
            out.close()
        self._logs.clear()

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def run_json_child(command: list[str], *, timeout: float, name: str) -> dict[str, Any]:
    """Run ``command`` (a ``python -m bench...`` child, in a process group of its own, from the
    checkout) and return the JSON object it printed last (see :func:`json_result`)."""
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True)
    return json_result(child, timeout=timeout, name=name)


def json_result(child: subprocess.Popen[bytes], *, timeout: float, name: str) -> dict[str, Any]:
    """Wait up to ``timeout`` s for ``child`` (stopped by its PID in any case), then parse the
    last line of its output as JSON; a non-zero exit raises ``RuntimeError("<name> failed")``."""
    try:
        out, _ = child.communicate(timeout=timeout)
    finally:
        stop_process_group(child, timeout=5)
    if child.returncode != 0:
        raise RuntimeError(f"{name} failed")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so that ``finally`` blocks stop every child."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def wait_for_http(
    url: str, *, timeout: float, process: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until ``url`` answers 200 (bounded); fail early if ``process`` exits."""
    import http.client

    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
        try:
            conn.request("GET", parts.path or "/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# --- the machine -----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_info(services: Services | None = None) -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and library versions, services: recorded with results."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            name: _version(name)
            for name in (
                "django-postlogin",
                "Django",
                "celery",
                "kombu",
                "social-auth-core",
                "social-auth-app-django",
                "gunicorn",
                "redis",
                "psycopg",
            )
        },
    }
    if services is not None:
        info["services"] = services.describe()
    return info


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def run_main(main: Callable[[], Any], name: str, *, on_interrupt: str = "interrupted") -> None:
    """A benchmark's entry point: Ctrl-C ends it with one line (``name: on_interrupt``) and
    exit status 130 instead of a traceback."""
    try:
        main()
    except KeyboardInterrupt:
        print(f"{name}: {on_interrupt}", file=sys.stderr)
        raise SystemExit(130) from None
