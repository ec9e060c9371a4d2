"""Loopback sockets that stand in for a service that is down, hung or black-holed.

Everything binds to 127.0.0.1 and is closed when its block ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (within a second)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unused_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def hung_server(backlog: int = 64) -> Iterator[int]:
    """A loopback socket that accepts connections and never answers; yields its port.

    Every accepted connection stays open, unanswered, until the block ends; ``backlog`` bounds
    the connections waiting to be accepted (a benchmark with many clients wants more)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(backlog)
    server.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
        for conn in held:
            conn.close()


@contextmanager
def black_hole() -> Iterator[int]:
    """A loopback port whose connections are never completed (as behind a firewall that drops
    packets): a listening socket that never accepts, its backlog already full. Yields the port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        # Completes into the backlog, or is itself left hanging: either way the backlog is full.
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()
