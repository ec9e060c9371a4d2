"""Property tests for what an attacker writes into a fetch: the URL (every spelling of a host)
and the headers of the answer (``Content-Length``, ``Retry-After``, ``Location``).

Whatever is generated, the client raises nothing but :class:`~postlogin.net.FetchError` (and its
subclass), and connects to no refused address: names come from a stubbed resolver, only loopback
canaries listen, and a connect spy records every attempt (letting loopback ones only through).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from postlogin import addresses
from postlogin.net import FetchError, TransientFetchError, fetch_bytes, retry_after_seconds
from postlogin.numbers import ascii_int

from .network import ConnectSpy, RawServer, connect_spy, raw_server, send_response, stub_resolver

#: Few examples (the suite runs them on every `make test`); no example database on disk.
#: The fixtures (resolver stub, connect spy, canary) hold for every example of a test.
PROPERTIES = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Networks no fetch may reach with FETCH_ALLOWED_NETWORKS empty.
REFUSED_V4 = [
    ipaddress.ip_network(net)
    for net in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "192.0.2.0/24",
        "198.18.0.0/15",
    )
]
REFUSED_V6 = [
    ipaddress.ip_network(net)
    for net in (
        "::1/128",
        "::/128",
        "fe80::/10",
        "fc00::/7",
        "fec0::/10",
        "ff00::/8",
        "2001:db8::/32",
    )
]
#: Names the stubbed resolver answers with refused addresses (IDNA names by their A-label).
NAMES = {
    "canary.test": ["127.0.0.1"],
    "internal.test": ["10.1.2.3"],
    "metadata.google.internal": ["169.254.169.254"],
    "xn--bcher-kva.test": ["192.168.7.7"],  # bücher.test
    "xn--80ak6aa92e.test": ["::1"],  # "apple.test" spelled in Cyrillic
    "mixed.test": ["93.184.215.14", "10.0.0.7"],
}
NAME_SPELLINGS = [
    "canary.test",
    "CANARY.TEST",
    "canary.test.",
    "internal.test",
    "metadata.google.internal",
    "bücher.test",
    "BÜCHER.test",
    "xn--bcher-kva.test",
    "bücher.test.",
    "\u0430\u0440\u0440\u04cf\u0435.test",
    "mixed.test",
]


def in_network(network: Any) -> st.SearchStrategy[Any]:
    first, last = int(network.network_address), int(network.broadcast_address)
    return st.integers(first, last).map(type(network.network_address))


refused_v4 = st.one_of(
    st.sampled_from(REFUSED_V4).flatmap(in_network),
    st.sampled_from(sorted(a for a in addresses.METADATA_ADDRESSES if a.version == 4)),
)
refused_v6 = st.one_of(
    st.sampled_from(REFUSED_V6).flatmap(in_network),
    st.sampled_from(sorted(a for a in addresses.METADATA_ADDRESSES if a.version == 6)),
)


@st.composite
def ipv4_spelling(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """One of the ways libc's inet_aton reads ``address``: 1 to 4 parts, each decimal, octal or
    hex (any case, zero-padded), the last part filling the remaining bytes."""
    count = draw(st.integers(1, 4))
    octets = list(address.packed)
    parts = [*octets[: count - 1], int.from_bytes(bytes(octets[count - 1 :]), "big")]

    def spell(part: int) -> str:
        radix = draw(st.sampled_from(["dec", "oct", "hex", "HEX"]))
        pad = "0" * draw(st.integers(0, 2))
        if radix == "oct":
            return "0" + pad + format(part, "o")
        if radix == "hex":
            return "0x" + pad + format(part, "x")
        if radix == "HEX":
            return "0X" + pad + format(part, "X")
        return str(part)

    return ".".join(spell(part) for part in parts)


@st.composite
def ipv6_spelling(draw: st.DrawFn, address: ipaddress.IPv6Address) -> str:
    text = draw(st.sampled_from([address.compressed, address.exploded]))
    return "[" + (text.upper() if draw(st.booleans()) else text) + "]"


@st.composite
def embedded_v4(draw: st.DrawFn) -> str:
    """A refused IPv4 address inside IPv6: mapped, compatible, NAT64, 6to4."""
    v4 = draw(refused_v4)
    value = int(v4)
    form = draw(st.sampled_from(["mapped", "mapped-hex", "mapped-long", "compat", "nat64", "6to4"]))
    if form == "mapped":
        return f"[::ffff:{v4}]"
    if form == "mapped-hex":
        return f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]"
    if form == "mapped-long":
        return f"[0:0:0:0:0:ffff:{v4}]"
    if form == "compat":
        return f"[::{v4}]"
    if form == "nat64":
        return f"[64:ff9b::{value >> 16:x}:{value & 0xFFFF:x}]"
    return f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::]"


@st.composite
def percent_encoded(draw: st.DrawFn, host: str) -> str:
    """Some of the host's characters percent-encoded (brackets of IPv6 literals kept)."""
    if host.startswith("["):
        return host
    chosen = draw(st.sets(st.integers(0, max(0, len(host) - 1)), max_size=3))
    return "".join(quote(c, safe="") if i in chosen else c for i, c in enumerate(host))


hosts = st.one_of(
    refused_v4.flatmap(ipv4_spelling),
    refused_v6.flatmap(ipv6_spelling),
    embedded_v4(),
    st.sampled_from(NAME_SPELLINGS),
)


@st.composite
def refused_urls(draw: st.DrawFn, canary_port: int) -> str:
    host = draw(hosts)
    if draw(st.booleans()):
        host = draw(percent_encoded(host))
    if draw(st.booleans()) and not host.startswith("[") and not host.endswith("."):
        host += "."
    userinfo = draw(st.sampled_from(["", "", "", "user@", "user:pw@", "@", "good.example@"]))
    port = draw(
        st.sampled_from(["", f":{canary_port}", ":80", ":443"]) | st.integers(1, 65535).map(str)
    )
    if port and not port.startswith(":"):
        port = ":" + port
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "hTTps"]))
    path = draw(st.sampled_from(["/", "/a.png", "/%2e%2e/x", "?q=1", "#frag", ""]))
    return f"{scheme}://{userinfo}{host}{port}{path}"


@contextmanager
def guarded(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RawServer, ConnectSpy]]:
    settings.POSTLOGIN = {"FETCH_ALLOW_HTTP": True, "FETCH_ALLOWED_NETWORKS": []}
    stub_resolver(monkeypatch, NAMES)
    with raw_server(lambda conn, server: send_response(conn, body=b"canary")) as canary:
        spy = connect_spy(monkeypatch)
        try:
            yield canary, spy
        finally:
            monkeypatch.undo()


def test_no_spelling_of_a_refused_host_is_connected_to(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with guarded(settings, monkeypatch) as (canary, spy):

        @PROPERTIES
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            url = data.draw(refused_urls(canary.port), label="url")
            with pytest.raises(FetchError):
                fetch_bytes(url, max_bytes=1024)
            assert spy.attempts == [], url

        check()
    assert canary.connections == 0


def test_arbitrary_text_as_a_url_raises_only_fetch_errors(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with guarded(settings, monkeypatch) as (canary, spy):

        @PROPERTIES
        @given(
            st.text(max_size=60)
            | st.builds(
                lambda scheme, rest: f"{scheme}://{rest}",
                st.sampled_from(["http", "https"]),
                st.text(max_size=40),
            )
        )
        def check(url: str) -> None:
            with suppress(FetchError):
                fetch_bytes(url, max_bytes=1024)
            assert spy.non_loopback() == [], url
            # Only the canary listens on loopback, and loopback is refused here.
            assert spy.attempts == [], url

        check()
    assert canary.connections == 0


#: Header values as they reach the client: latin-1 text (so "²" and "¹" come through), no line
#: breaks; plus the values that matter most.
header_text = st.text(
    st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=30
) | st.sampled_from(["²", "¹²³", "١٢", "+5", "-1", "1_0", "0x10", "1e3", " 7 ", "9" * 60, "5, 5"])


def outcome_of(call: Callable[[], bytes]) -> bytes | str:
    """What ``call`` returned, or the reason of the FetchError it raised (nothing else)."""
    try:
        return call()
    except FetchError as exc:
        return exc.reason


class Answer:
    """What the loopback server answers next (set per example, read by the server's thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status = "200 OK"
        self.headers: dict[str, str] = {}

    def respond(self, conn: socket.socket, server: RawServer) -> None:
        with self.lock:
            status, headers = self.status, dict(self.headers)
        head = [f"HTTP/1.1 {status}", "Connection: close", "Content-Type: image/png"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        text = "\r\n".join(head) + "\r\n\r\n"
        # Latin-1 where it can be (headers are read as latin-1: "²" arrives as "²"), else UTF-8
        # as servers send a non-ASCII Location.
        latin1 = all(ord(char) < 256 for char in text)
        conn.sendall(text.encode("latin-1" if latin1 else "utf-8") + b"pic")

    def set(self, status: str, **headers: str) -> None:
        with self.lock:
            self.status, self.headers = status, headers


@contextmanager
def answering(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Answer, RawServer, ConnectSpy]]:
    # Only the server's own address is allowed; every other loopback address is refused.
    settings.POSTLOGIN = {"FETCH_ALLOW_HTTP": True, "FETCH_ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    stub_resolver(monkeypatch, NAMES)
    answer = Answer()
    with raw_server(answer.respond) as server:
        spy = connect_spy(monkeypatch)
        try:
            yield answer, server, spy
        finally:
            monkeypatch.undo()


def test_any_content_length_is_a_cap_check_or_ignored(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with answering(settings, monkeypatch) as (answer, server, _spy):

        @PROPERTIES
        @given(header_text)
        def check(value: str) -> None:
            answer.set("200 OK", **{"Content-Length": value})
            declared = ascii_int(value)
            outcome = outcome_of(lambda: fetch_bytes(server.url(), max_bytes=100)[0])
            if declared is not None and declared > 100:
                assert outcome == "too_large"
            else:
                # The body, cut to a shorter declared length (HTTP reads no further); or a body
                # shorter than its declared length: the connection broke.
                body = b"pic" if declared is None else b"pic"[:declared]
                assert outcome in (body, "connection_error"), outcome

        check()


def test_any_retry_after_is_seconds_or_nothing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with answering(settings, monkeypatch) as (answer, server, _spy):

        @PROPERTIES
        @given(header_text | st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")))
        def check(value: str) -> None:
            answer.set("503 Service Unavailable", **{"Retry-After": value})
            with pytest.raises(TransientFetchError) as error:
                fetch_bytes(server.url(), max_bytes=100)
            wait = error.value.retry_after
            assert wait is None or wait >= 0
            assert retry_after_seconds(value.strip()) is None or wait is not None

        check()


@given(st.text(max_size=40) | header_text)
@PROPERTIES
def test_retry_after_parsing_never_raises(value: str) -> None:
    wait = retry_after_seconds(value)
    assert wait is None or wait >= 0


def test_any_location_is_followed_only_to_allowed_addresses(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = [ipaddress.ip_network("127.0.0.1/32")]
    with answering(settings, monkeypatch) as (answer, server, spy):
        locations = (
            header_text
            | refused_urls(server.port)
            | st.builds(lambda path: f"/{path}", st.text(max_size=20))
        )

        @PROPERTIES
        @given(locations)
        def check(location: str) -> None:
            answer.set("302 Found", Location=location)
            spy.attempts.clear()
            with pytest.raises(FetchError):
                fetch_bytes(server.url(), max_bytes=100)
            for attempt in spy.attempts:
                # The allowed server itself, or a public address (which the spy refuses).
                address = ipaddress.ip_address(attempt.split("%")[0])
                assert addresses.refusal(address, allowed) is None, (location, attempt)

        check()
