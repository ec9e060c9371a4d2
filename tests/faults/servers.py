"""Private servers for fault tests: a throwaway PostgreSQL cluster and a redis-server, each on a
free loopback port in a temporary directory, restarted and stopped by the test that owns them.
The machine's shared services are never touched."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ..helpers import port_open, stop_process, unused_port, wait_until

POSTGRESQL_ROOT = Path("/usr/lib/postgresql")


def _unavailable(message: str) -> None:
    """Skip on a laptop without the tools; fail under CI, where they must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true)")
    pytest.skip(message)


def _postgresql_bin() -> Path:
    versions = sorted(POSTGRESQL_ROOT.glob("*/bin/initdb")) if POSTGRESQL_ROOT.exists() else []
    if not versions:
        _unavailable(f"no PostgreSQL server binaries under {POSTGRESQL_ROOT}")
    if os.geteuid() != 0:
        # initdb refuses to run as root, and only root can switch to the postgres user.
        _unavailable("a private PostgreSQL cluster needs root (to run initdb as postgres)")
    return versions[-1].parent


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb`` + ``pg_ctl``), run as the postgres user."""

    def __init__(self, root: Path, port: int) -> None:
        self.bin = _postgresql_bin()
        self.root, self.port = root, port
        self.data, self.log = root / "data", root / "server.log"
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / program), *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", *extra, action
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """A fast shutdown: sessions are terminated, as in a restart or a failover."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def kill(self) -> None:
        """Stop the postmaster by the PID in its pid file, if it is still running."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
        except ProcessLookupError:
            return
        wait_until(lambda: not pid_file.exists(), timeout=20, interval=0.1)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=3, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())

    def job_states(self) -> dict[tuple[str, str], int]:
        rows = self.query("SELECT kind, state, count(*) FROM postlogin_job GROUP BY kind, state")
        return {(kind, state): count for kind, state, count in rows}


@contextmanager
def private_postgresql() -> Iterator[PrivatePostgres]:
    # Not pytest's tmp_path: its parents are root's, closed to the postgres user.
    root = Path(tempfile.mkdtemp(prefix="postlogin-faults-pg-"))
    owner = pwd.getpwnam("postgres")
    os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PrivatePostgres(root, unused_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of its own, without persistence: a restart loses what it held."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _unavailable("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout=20, interval=0.05)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def private_redis(root: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(root, unused_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
