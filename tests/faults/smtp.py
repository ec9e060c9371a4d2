"""A loopback SMTP server small enough to read: enough of RFC 5321 for Django's SMTP backend
(greeting, EHLO, MAIL, RCPT, DATA, QUIT; no TLS, no AUTH). Received messages in ``messages``."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..helpers import serving


class _Session(socketserver.StreamRequestHandler):
    server: SMTPServer

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 localhost ESMTP test server")
        for _ in range(1000):  # commands per session: bounded
            line = self.rfile.readline(1000).decode().strip()
            verb = line[:4].upper()
            if not line or verb == "QUIT":
                self.reply("221 bye")
                return
            if verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.server.received(self.read_data())
                self.reply("250 queued")
            elif verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            else:  # MAIL, RCPT, RSET, NOOP
                self.reply("250 OK")

    def read_data(self) -> bytes:
        lines = []
        for _ in range(100_000):
            line = self.rfile.readline(10_000)
            if line in (b".\r\n", b""):
                break
            lines.append(line)
        return b"".join(lines)


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def received(self, message: bytes) -> None:
        with self.lock:
            self.messages.append(message)


@contextmanager
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    with serving(server):
        yield server
