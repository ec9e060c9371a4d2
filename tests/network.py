"""Network fixtures for the fetch tests: a resolver stub, a connect spy, loopback servers.

Nothing here lets a packet leave the machine. Names resolve from a fixed table (anything else is
parsed as a numeric address, never looked up in DNS), and the connect spy lets a socket connect
only to a loopback address: an attempt to reach any other address is recorded and fails.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


class StubResolver:
    """``socket.getaddrinfo`` answering names from ``table``; literals parsed, never looked up."""

    def __init__(
        self, table: dict[str, list[str]], later: dict[str, list[str]] | None = None
    ) -> None:
        self.table = table
        #: Answers given from the second lookup of a name on (a DNS rebinding attack).
        self.later = later or {}
        self.calls: list[str] = []

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        looked_up_before = name in self.calls
        self.calls.append(name)
        if name in self.table:
            table = self.later if looked_up_before and name in self.later else self.table
            answers: list[Any] = []
            for address in table[name]:
                ip = ipaddress.ip_address(address)
                if ip.version == 4:
                    answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
                else:
                    answers.append(
                        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                    )
            return answers
        # AI_NUMERICHOST: "127.1" or "0x7f000001" parse as libc parses them; a name fails here
        # instead of going to DNS.
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)


def stub_resolver(
    monkeypatch: pytest.MonkeyPatch,
    table: dict[str, list[str]] | None = None,
    later: dict[str, list[str]] | None = None,
) -> StubResolver:
    resolver = StubResolver({"localhost": ["127.0.0.1", "::1"], **(table or {})}, later)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


@dataclass
class ConnectSpy:
    """Every address a socket tried to connect to; only loopback ones were let through."""

    attempts: list[str] = field(default_factory=list)

    def non_loopback(self) -> list[str]:
        return [a for a in self.attempts if not ipaddress.ip_address(a.split("%")[0]).is_loopback]


def connect_spy(monkeypatch: pytest.MonkeyPatch) -> ConnectSpy:
    spy = ConnectSpy()

    def connect(sock: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        spy.attempts.append(host)
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"test connect spy: {host} is not loopback")
        _real_connect(sock, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        spy.attempts.append(str(address[0]))
        raise ConnectionRefusedError("test connect spy: socket.create_connection is not expected")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return spy


@dataclass
class RawServer:
    """A loopback TCP server answering each connection with ``respond(conn, server)``."""

    host: str
    port: int = 0
    scheme: str = "http"
    #: The raw request head (request line and headers) of every connection, in order.
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def header(self, index: int, name: str) -> str | None:
        for line in self.requests[index].decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


Respond = Callable[[socket.socket, RawServer], None]


def _read_head(conn: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        data = conn.recv(4096)
        if not data:
            break
        head += data
    return head.split(b"\r\n\r\n", 1)[0]


@contextmanager
def raw_server(
    respond: Respond | None = None,
    host: str = "127.0.0.1",
    *,
    tls: ssl.SSLContext | None = None,
) -> Iterator[RawServer]:
    """Serve on ``host`` (loopback only) until the block ends; ``respond=None`` never answers
    (a canary: it only counts connections)."""
    assert ipaddress.ip_address(host).is_loopback
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.bind((host, 0))
    listener.listen(32)
    listener.settimeout(0.05)
    server = RawServer(host=host, port=listener.getsockname()[1], scheme="https" if tls else "http")
    workers: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            server.requests.append(_read_head(conn))
            if respond is not None:
                respond(conn, server)
        except OSError:
            pass  # the client hung up, which several tests make it do
        finally:
            conn.close()

    def accept() -> None:
        while not server.stopped.is_set():
            try:
                conn, _peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            if respond is None and tls is None:
                conn.close()
                continue
            worker = threading.Thread(target=handle, args=(conn,), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server.stopped.set()
        acceptor.join(timeout=5)
        listener.close()
        for worker in workers:
            worker.join(timeout=5)


def send_response(
    conn: socket.socket,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> None:
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def drip(conn: socket.socket, server: RawServer, *, interval: float, limit: float) -> None:
    """Send headers, then one byte every ``interval`` seconds, for at most ``limit`` seconds."""
    send_response(conn, headers={"Content-Type": "image/png"}, content_length=False)
    deadline = time.monotonic() + limit
    while not server.stopped.is_set() and time.monotonic() < deadline:
        conn.sendall(b"x")
        time.sleep(interval)


@dataclass(frozen=True)
class LocalCA:
    """A throwaway certificate authority, and a server context for one host name."""

    ca_file: Path
    server_context: ssl.SSLContext
    server_names: list[str]


def make_local_ca(tmp_path: Path, certificate_name: str) -> LocalCA:
    """A CA written to ``tmp_path``, and a TLS server context whose certificate names
    ``certificate_name`` and which records the SNI each client sent."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(
        subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, san: str | None
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            ).add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san or subject)]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("postlogin test CA", ca_key, "postlogin test CA", ca_key, ca=True, san=None)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(
        certificate_name, leaf_key, "postlogin test CA", ca_key, ca=False, san=certificate_name
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = tmp_path / "server.pem"
    cert_file.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file)
    names: list[str] = []

    def record_sni(sock: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(server_name or "")

    context.sni_callback = record_sni
    return LocalCA(ca_file=ca_file, server_context=context, server_names=names)


class BlockingResolver:
    """``socket.getaddrinfo`` that answers nothing until released (a resolver that hangs).

    Released at the latest when the ``with`` block ends, so that no lookup thread outlives the
    test; ``threads()`` lists the lookup threads still running.
    """

    def __init__(self) -> None:
        self.released = threading.Event()
        self.called = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.called.set()
        self.released.wait(10)  # bounded even if a test forgets to release it
        raise socket.gaierror(socket.EAI_AGAIN, "stubbed resolver released")

    @staticmethod
    def threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "postlogin-resolve"]


@contextmanager
def blocking_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockingResolver]:
    resolver = BlockingResolver()
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    try:
        yield resolver
    finally:
        resolver.released.set()
        for thread in resolver.threads():
            thread.join(timeout=5)
