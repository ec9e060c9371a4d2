"""Canned answers to the guarded outbound client, for a project's own tests.

Inside ``with canned_responses({...}) as canned:`` every request :mod:`postlogin.http` (and so
:mod:`postlogin.net`, the built-in kinds included) makes is vetted exactly as in production,
then answered from the table instead of the network:

- the URL is parsed and its host resolved through a stub resolver (``hosts``; each canned URL's
  host name resolves to :data:`CANNED_ADDRESS`, a public address, unless ``hosts`` says
  otherwise (an address in the URL stays that address);
  any other name is refused as unresolvable, never looked up in DNS), and every address is
  vetted against ``FETCH_ALLOWED_NETWORKS``;
- only then is the canned reply served, in place of the pinned connection: a refused address is
  still refused, and no reply is served for it;
- no socket may connect to anything but a loopback address while the block runs (your tests'
  database and broker): any other attempt fails and is listed in ``refused_connections``.

Each URL maps to a :class:`Reply`, or a list of them served in order (the last one again once
the others are used); ``requests.Timeout()`` or ``requests.ConnectionError()`` in place of a
reply stands for a server that does not answer in time, or cannot be reached. A request to a URL
that has no reply fails like an unreachable server, and the block ends with an
``AssertionError`` that lists it.
"""

from __future__ import annotations

import io
import ipaddress
import json as jsonlib
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import requests
import urllib3

from .. import net

#: Where a canned URL's host resolves, unless ``hosts`` says otherwise: a public address, so
#: that the address guard lets it through as it would a real API's. Nothing ever connects to it.
CANNED_ADDRESS = "93.184.215.14"

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


@dataclass(frozen=True)
class Reply:
    """One canned HTTP answer: ``status``, ``headers``, and ``body`` (bytes) or ``json``."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    json: Any = None

    def content(self) -> tuple[dict[str, str], bytes]:
        """The headers and bytes sent (a ``json`` reply is encoded, with its Content-Type)."""
        headers = dict(self.headers)
        if self.json is None:
            return headers, self.body
        headers.setdefault("Content-Type", "application/json")
        return headers, jsonlib.dumps(self.json).encode()


@dataclass(frozen=True)
class Call:
    """A request that passed the address guard: what was sent, and the vetted address it was
    pinned to (``reply`` is None when the table had none for its URL)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    address: str
    reply: Reply | None

    def json(self) -> Any:
        """The request body, parsed as JSON."""
        return jsonlib.loads(self.body)


Answer = Reply | requests.RequestException


@dataclass
class CannedResponses:
    """The table being served, and what happened while it was (see the module's doc)."""

    replies: dict[str, list[Answer]]
    #: Every request that passed the address guard, in order.
    calls: list[Call] = field(default_factory=list)
    #: Socket connections refused because they went elsewhere than a loopback address.
    refused_connections: list[str] = field(default_factory=list)
    #: Requests (``"METHOD url"``) the table had no reply for.
    unanswered: list[str] = field(default_factory=list)
    _served: dict[str, int] = field(default_factory=dict)

    def calls_to(self, url: str) -> list[Call]:
        """The calls made to ``url``."""
        wanted = _normalised(url)
        return [call for call in self.calls if call.url == wanted]

    def next_answer(self, method: str, url: str) -> Answer | None:
        answers = self.replies.get(url)
        if not answers:
            self.unanswered.append(f"{method} {url}")
            return None
        served = self._served.get(url, 0)
        self._served[url] = served + 1
        return answers[min(served, len(answers) - 1)]


#: The tables being served, innermost last (read by :mod:`postlogin.testing.jobs`).
active: list[CannedResponses] = []


def _normalised(url: str) -> str:
    return requests.Request("GET", url).prepare().url or url


@contextmanager
def canned_responses(
    replies: Mapping[str, Reply | requests.RequestException | Sequence[Answer]],
    *,
    hosts: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[CannedResponses]:
    """Serve ``replies`` (URL -> reply, or replies in order) to the guarded client while the
    block runs; ``hosts`` (name -> addresses) overrides where a name resolves."""
    table = {
        _normalised(url): [answers] if isinstance(answers, Reply | Exception) else list(answers)
        for url, answers in replies.items()
    }
    names = {
        host: [CANNED_ADDRESS]
        for url in table
        if (host := str(urlsplit(url).hostname)) and not _is_literal(host)
    }
    names.update({name: list(addresses) for name, addresses in (hosts or {}).items()})
    canned = CannedResponses(table)
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(socket, "getaddrinfo", _resolver(names)))
        stack.enter_context(mock.patch.object(socket.socket, "connect", _loopback_only(canned)))
        stack.enter_context(mock.patch.object(net._PinnedAdapter, "send", _serve(canned)))
        active.append(canned)
        try:
            yield canned
        finally:
            active.remove(canned)
    if canned.unanswered:
        raise AssertionError(
            f"requests to URLs without a canned reply: {', '.join(canned.unanswered)}"
        )


def _is_literal(host: str) -> bool:
    """Whether ``host`` is an address (in any spelling libc accepts), not a name: a canned URL
    such as ``https://10.0.0.1/`` keeps its address, and the guard vets that one."""
    try:
        _real_getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return False
    return True


def _resolver(names: Mapping[str, Sequence[str]]) -> Any:
    """``socket.getaddrinfo`` answering ``names`` (and ``localhost``); a literal address is
    parsed, any other name fails without asking DNS."""

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        table = {"localhost": ["127.0.0.1"], **names}
        if name.rstrip(".").lower() not in table:
            # AI_NUMERICHOST: a literal parses as libc parses it; a name fails, DNS unasked.
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        answers: list[Any] = []
        for address in table[name.rstrip(".").lower()]:
            if ipaddress.ip_address(address).version == 4:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
            else:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
        return answers

    return getaddrinfo


def _loopback_only(canned: CannedResponses) -> Any:
    def connect(sock: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = sock.family == socket.AF_UNIX
        if not loopback:
            canned.refused_connections.append(host)
            raise ConnectionRefusedError(f"canned_responses: no connection to {host}")
        _real_connect(sock, address)

    return connect


def _serve(canned: CannedResponses) -> Any:
    """``_PinnedAdapter.send``: the canned reply for a request that passed the guard."""

    def send(adapter: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        answer = canned.next_answer(request.method or "", url)
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        reply = answer if isinstance(answer, Reply) else None
        canned.calls.append(
            Call(
                method=request.method or "",
                url=url,
                headers=dict(request.headers),
                body=body,
                address=adapter.destination.address,
                reply=reply,
            )
        )
        if answer is None:
            raise requests.ConnectionError(f"canned_responses: no reply for {url}")
        if not isinstance(answer, Reply):
            raise answer
        headers, content = answer.content()
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers=headers,
            status=answer.status,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=url,
        )
        response: requests.Response = adapter.build_response(request, raw)
        return response

    return send
