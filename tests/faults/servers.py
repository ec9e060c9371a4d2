"""Private servers for fault tests: a throwaway PostgreSQL cluster, a redis-server and a RabbitMQ
node, each on a free loopback port in a temporary directory, restarted and stopped by the test
that owns them. The machine's shared services are never touched."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
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


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


class PrivateRabbitMQ:
    """A RabbitMQ node of its own, as root (not the packaged wrapper, which switches to the
    rabbitmq user), with its own Erlang cookie, data directory and ``epmd``: every port on
    127.0.0.1, the machine's broker and its epmd untouched. Its queues are durable and Celery's
    messages persistent, so a restart keeps the queued messages; the unacknowledged ones go back
    to their queue when their consumer's connection drops."""

    def __init__(self, root: Path) -> None:
        for program in ("rabbitmq-server", "rabbitmqctl"):
            if not (RABBITMQ_BIN / program).exists():
                _unavailable(f"no {program} under {RABBITMQ_BIN}")
        if shutil.which("epmd") is None:
            _unavailable("epmd (Erlang) is not installed")
        self.root = root
        self.port, dist_port, self.epmd_port = unused_port(), unused_port(), unused_port()
        self.node = f"postlogin{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        (root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "log.file.level = warning\n"
        )
        (root / "enabled_plugins").write_text("[].\n")
        cookie = root / ".erlang.cookie"
        cookie.write_text(os.urandom(16).hex())
        cookie.chmod(0o400)
        loopback = "-kernel inet_dist_use_interface {127,0,0,1}"
        self.env = {
            **os.environ,
            "HOME": str(root),  # the Erlang cookie's home, for the server and rabbitmqctl
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": loopback,
            "RABBITMQ_CTL_ERL_ARGS": loopback,
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        self.epmd: subprocess.Popen[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        #: Seconds each start took, until the AMQP port accepted connections.
        self.start_seconds: list[float] = []

    def start(self) -> None:
        if self.epmd is None:
            # Ours, in the foreground, so that it is stopped by its PID (a node would otherwise
            # start one as a daemon that outlives the test).
            self.epmd = subprocess.Popen(
                ["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            wait_until(lambda: port_open("127.0.0.1", self.epmd_port), timeout=20, interval=0.05)
        started = time.monotonic()
        with (self.root / "server.out").open("ab") as output:
            self.process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: self._accepting(), timeout=90, interval=0.1)
        self.start_seconds.append(round(time.monotonic() - started, 1))

    def _accepting(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.root / "server.out").read_text()[-3000:]
            raise AssertionError(f"rabbitmq-server exited with {self.process.returncode}: {log}")
        return port_open("127.0.0.1", self.port)

    def stop(self) -> None:
        """Stop the node (``rabbitmqctl stop``, as a service manager does), then make sure its
        process group is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            subprocess.run(
                [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, "stop"],
                env=self.env,
                timeout=60,
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        stop_process(self.process, timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its Erlang helpers, if any lingered
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self.epmd is not None:
            stop_process(self.epmd, timeout=10)
            self.epmd = None


@contextmanager
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    # A short path: Erlang's node and socket names have length limits.
    root = Path(tempfile.mkdtemp(prefix="postlogin-faults-mq-"))
    server = PrivateRabbitMQ(root)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)
