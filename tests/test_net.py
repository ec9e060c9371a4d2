"""The outbound client against real loopback servers: pinning, caps, timeouts, redirects, TLS.

The suite's settings allow 127.0.0.0/8 over plain http (tests/settings.py); host names come from
a stubbed resolver, so nothing is looked up in DNS.
"""

from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from requests.adapters import HTTPAdapter

from postlogin import net
from postlogin.addresses import Destination
from postlogin.net import FetchError, TransientFetchError, fetch_bytes, retry_after_seconds

from .helpers import http_server, hung_server, unused_port
from .network import (
    BlockingResolver,
    RawServer,
    blocking_resolver,
    connect_spy,
    drip,
    make_local_ca,
    raw_server,
    send_response,
    stub_resolver,
)
from .settings import TEST_POSTLOGIN

MiB = 1024 * 1024


def reply(
    status: str = "200 OK", headers: dict[str, str] | None = None, body: bytes = b""
) -> Callable[[socket.socket, RawServer], None]:
    def respond(conn: socket.socket, server: RawServer) -> None:
        send_response(conn, status, {"Content-Type": "image/png", **(headers or {})}, body)

    return respond


def measured(call: Callable[[], Any]) -> tuple[BaseException | None, int, float]:
    """Run ``call``; return what it raised, the peak of Python memory it allocated, its time."""
    tracemalloc.start()
    started = time.monotonic()
    error: BaseException | None = None
    try:
        call()
    except Exception as exc:
        error = exc
    elapsed = time.monotonic() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return error, peak, elapsed


def test_fetch_returns_the_body_and_its_type() -> None:
    with raw_server(reply(body=b"picture")) as server:
        assert fetch_bytes(server.url("/a.png"), max_bytes=1024) == (b"picture", "image/png")
    assert server.header(0, "User-Agent") == "django-postlogin"
    assert server.header(0, "Accept-Encoding") == "identity"


def test_proxy_and_netrc_settings_in_the_environment_are_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A proxy would receive the request and connect wherever it likes, defeating the guard;
    # a .netrc would add credentials to a host the user does not control.
    proxy = f"http://127.0.0.1:{unused_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with raw_server(reply(body=b"direct")) as server:
        assert fetch_bytes(server.url("/a.png"), max_bytes=1024)[0] == b"direct"
    assert server.header(0, "Authorization") is None


def test_the_host_is_resolved_once_and_the_connection_goes_to_that_address(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebinding resolver: 127.0.0.1 (allowed) first, then 127.0.0.2 (refused) for any later
    # lookup. A client that resolved again when connecting would reach the canary.
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "FETCH_ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    resolver = stub_resolver(
        monkeypatch, {"avatars.test": ["127.0.0.1"]}, later={"avatars.test": ["127.0.0.2"]}
    )
    with raw_server(host="127.0.0.2") as canary, raw_server(reply(body=b"ok")) as server:
        body, _type = fetch_bytes(f"http://avatars.test:{server.port}/a.png", max_bytes=1024)
    assert body == b"ok"
    assert resolver.calls.count("avatars.test") == 1
    assert canary.connections == 0
    assert server.header(0, "Host") == f"avatars.test:{server.port}"


@pytest.mark.parametrize("call", ["fetch_bytes", "post"])
def test_a_connection_not_pinned_to_the_vetted_address_is_refused_before_connecting(
    settings: Any, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    # As with requests older than 2.32.3, which never calls the pinning hook: the pool is the
    # host name's, which urllib3 would resolve again when connecting. The rebinding resolver
    # answers a public address to the check, then the canary's loopback address.
    monkeypatch.setattr(
        net._PinnedAdapter,
        "build_connection_pool_key_attributes",
        HTTPAdapter.build_connection_pool_key_attributes,
    )
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "FETCH_ALLOWED_NETWORKS": []}
    with raw_server(reply(body=b"internal")) as canary:
        resolver = stub_resolver(
            monkeypatch, {"rebind.test": ["93.184.215.14"]}, later={"rebind.test": ["127.0.0.1"]}
        )
        spy = connect_spy(monkeypatch)
        url = f"http://rebind.test:{canary.port}/a.png"
        send: dict[str, Callable[[], object]] = {
            "fetch_bytes": lambda: fetch_bytes(url, max_bytes=1024),
            "post": lambda: net.post(url, b"{}", {}),
        }
        with pytest.raises(FetchError) as refused:
            send[call]()
        monkeypatch.undo()
    assert refused.value.reason == "not_pinned", refused.value
    assert not isinstance(refused.value, TransientFetchError)
    assert "93.184.215.14" in str(refused.value)
    assert spy.attempts == []
    assert canary.connections == 0
    assert resolver.calls == ["rebind.test"]


def test_a_proxy_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = net._PinnedAdapter(Destination("a.test", "93.184.215.14", 443))
    with pytest.raises(FetchError) as refused:
        adapter.proxy_manager_for("http://127.0.0.1:3128")
    assert refused.value.reason == "not_pinned"


def test_a_resolver_that_never_answers_is_cut_off_by_the_deadline(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": (0.2, 0.3)}
    spy = connect_spy(monkeypatch)
    with blocking_resolver(monkeypatch) as resolver, pytest.raises(FetchError) as error:
        fetch_bytes("https://slow-dns.test/a.png", max_bytes=1024)
    assert resolver.called.is_set()
    assert isinstance(error.value, TransientFetchError)
    assert error.value.reason == "timeout", error.value
    assert "slow-dns.test" in str(error.value)
    assert spy.attempts == []
    assert BlockingResolver.threads() == [], "the lookup thread ended when released"


def test_a_webhook_post_also_counts_resolution_in_its_deadline(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": (0.2, 0.3)}
    with blocking_resolver(monkeypatch), pytest.raises(TransientFetchError) as error:
        net.post("https://slow-dns.test/hook", b"{}", {})
    assert error.value.reason == "timeout"


def test_the_last_read_ends_at_the_deadline_not_a_read_timeout_later(settings: Any) -> None:
    # Bytes keep coming until just before the 3.2 s budget, then stop. Each read may wait up to
    # the 3 s read timeout, but not past the budget.
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": (0.2, 3.0)}

    def respond(conn: socket.socket, server: RawServer) -> None:
        drip(conn, server, interval=0.25, limit=2.9)
        server.stopped.wait(10)

    with raw_server(respond) as server:
        error, _peak, elapsed = measured(lambda: fetch_bytes(server.url(), max_bytes=MiB))
    assert isinstance(error, TransientFetchError)
    assert error.reason == "timeout"
    assert elapsed < 4.5, f"{elapsed:.1f} s for a 3.2 s budget"


#: What the servers below send, allocated once: tracemalloc also sees the server's threads.
BLOCK = b"\0" * (256 * 1024)
CHUNK = b"%x\r\n%s\r\n" % (len(BLOCK), BLOCK)


def test_content_length_over_the_cap_is_refused_before_the_body_is_read() -> None:
    def huge(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n")
        conn.sendall(f"Content-Length: {64 * MiB}\r\n\r\n".encode())
        for _ in range(256):  # 64 MiB at most, stopped by the client hanging up
            if server.stopped.is_set():
                return
            conn.sendall(BLOCK)

    with raw_server(huge) as server:
        error, peak, _elapsed = measured(lambda: fetch_bytes(server.url(), max_bytes=MiB))
    assert isinstance(error, FetchError)
    assert not isinstance(error, TransientFetchError)
    assert error.reason == "too_large"
    assert str(error) == f"Content-Length {64 * MiB} is over the {MiB}-byte cap"
    assert peak < MiB / 2, f"{peak} bytes allocated for a refused body"


@pytest.mark.parametrize("framing", ["until-close", "chunked"])
def test_a_body_without_length_stops_at_the_cap_while_streaming(framing: str) -> None:
    def endless(conn: socket.socket, server: RawServer) -> None:
        chunked = framing == "chunked"
        send_response(
            conn,
            headers={"Transfer-Encoding": "chunked"} if chunked else {},
            content_length=False,
        )
        for _ in range(256):  # 64 MiB at most, stopped by the client hanging up
            if server.stopped.is_set():
                return
            conn.sendall(CHUNK if chunked else BLOCK)

    with raw_server(endless) as server:
        error, peak, _elapsed = measured(lambda: fetch_bytes(server.url(), max_bytes=MiB))
    assert isinstance(error, FetchError)
    assert (error.reason, str(error)) == ("too_large", f"body is over the {MiB}-byte cap")
    # The cap, the last chunk read and the final copy: nowhere near the 64 MiB on offer.
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_a_slow_drip_is_cut_off_by_the_overall_time_budget(settings: Any) -> None:
    # Each byte arrives well within the read timeout; only the overall budget stops it.
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": (0.5, 0.5)}

    def respond(conn: socket.socket, server: RawServer) -> None:
        drip(conn, server, interval=0.05, limit=10)

    with raw_server(respond) as server:
        error, _peak, elapsed = measured(lambda: fetch_bytes(server.url(), max_bytes=MiB))
    assert isinstance(error, TransientFetchError)
    assert error.reason == "timeout"
    assert "too slowly" in str(error)
    assert elapsed < 2.5


def test_a_server_that_never_answers_times_out(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": (0.5, 0.5)}
    with hung_server() as port:
        error, _peak, elapsed = measured(
            lambda: fetch_bytes(f"http://127.0.0.1:{port}/", max_bytes=MiB)
        )
    assert isinstance(error, TransientFetchError)
    assert error.reason == "timeout"
    assert elapsed < 2


def test_a_body_that_stalls_hits_the_read_timeout(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "HTTP_TIMEOUT": (0.5, 0.3)}

    def stall(conn: socket.socket, server: RawServer) -> None:
        send_response(conn, headers={"Content-Length": "100"}, content_length=False)
        conn.sendall(b"partial")
        server.stopped.wait(5)

    with raw_server(stall) as server:
        error, _peak, elapsed = measured(lambda: fetch_bytes(server.url(), max_bytes=MiB))
    assert isinstance(error, TransientFetchError)
    assert error.reason == "timeout"
    assert elapsed < 2


def test_a_body_cut_short_is_transient() -> None:
    def cut(conn: socket.socket, server: RawServer) -> None:
        send_response(conn, headers={"Content-Length": "100"}, content_length=False)
        conn.sendall(b"only part of it")

    with raw_server(cut) as server, pytest.raises(TransientFetchError) as error:
        fetch_bytes(server.url(), max_bytes=MiB)
    assert error.value.reason == "connection_error"


def test_connection_refused_is_transient() -> None:
    with pytest.raises(TransientFetchError) as error:
        fetch_bytes(f"http://127.0.0.1:{unused_port()}/a.png", max_bytes=1024)
    assert error.value.reason == "connection_error"


def test_compressed_bodies_are_refused() -> None:
    bomb = gzip.compress(b"\0" * (32 * MiB))  # 32 KiB on the wire
    with raw_server(reply(headers={"Content-Encoding": "gzip"}, body=bomb)) as server:
        error, peak, _elapsed = measured(lambda: fetch_bytes(server.url(), max_bytes=MiB))
    assert isinstance(error, FetchError)
    assert error.reason == "unexpected_encoding"
    assert peak < MiB


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        *[(status, False) for status in (404, 403, 410, 204, 304)],
        *[(status, True) for status in (408, 425, 429, 500, 502, 503)],
    ],
)
def test_http_status_is_permanent_or_transient(status: int, transient: bool) -> None:
    with (
        http_server(lambda path, n: (status, {}, b"")) as server,
        pytest.raises(FetchError) as error,
    ):
        fetch_bytes(server.url("/a.png"), max_bytes=1024)
    assert isinstance(error.value, TransientFetchError) is transient
    assert (error.value.reason, error.value.status) == ("http_status", status)
    assert str(error.value) == f"HTTP {status} from 127.0.0.1"


def test_retry_after_is_exposed() -> None:
    with (
        http_server(lambda path, n: (429, {"Retry-After": "120"}, b"")) as server,
        pytest.raises(TransientFetchError) as error,
    ):
        fetch_bytes(server.url("/a.png"), max_bytes=1024)
    assert error.value.retry_after == 120.0


@pytest.mark.parametrize("value", ["\u00b2", "\u00b9\u00b2\u00b3"])
def test_content_length_of_non_ascii_digits_is_no_length(value: str) -> None:
    # "²".isdigit() is True but int("²") raises: latin-1 header bytes can carry it.
    def respond(conn: socket.socket, server: RawServer) -> None:
        send_response(conn, headers={"Content-Length": value}, body=b"pic", content_length=False)

    with raw_server(respond) as server:
        assert fetch_bytes(server.url(), max_bytes=1024)[0] == b"pic"


def test_retry_after_of_non_ascii_digits_is_ignored() -> None:
    with (
        http_server(lambda path, n: (503, {"Retry-After": "\u00b2"}, b"")) as server,
        pytest.raises(TransientFetchError) as error,
    ):
        fetch_bytes(server.url("/a.png"), max_bytes=1024)
    assert (error.value.reason, error.value.retry_after) == ("http_status", None)


@pytest.mark.parametrize(
    "value", ["\u00b2", "\u0661\u0662", "+5", "1_0", "-3", "5.5", "\u00b2 GMT"]
)
def test_retry_after_is_ascii_digits_or_a_date(value: str) -> None:
    assert retry_after_seconds(value) is None


def test_retry_after_parses_seconds_and_dates() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 80 < (retry_after_seconds(later) or 0) <= 90
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def redirects(chain: dict[str, str]) -> Callable[[str, int], tuple[int, dict[str, str], bytes]]:
    """A script: paths in ``chain`` redirect to their value; any other path is the picture."""

    def script(path: str, hit: int) -> tuple[int, dict[str, str], bytes]:
        if path in chain:
            return 302, {"Location": chain[path]}, b""
        return 200, {"Content-Type": "image/png"}, f"picture at {path}".encode()

    return script


def test_redirects_are_followed_up_to_the_limit(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "FETCH_MAX_REDIRECTS": 3}
    chain = {"/1": "/2", "/2": "3", "/3": "/final?size=256"}  # "3" is relative to "/2"
    with http_server(redirects(chain)) as server:
        body, _type = fetch_bytes(server.url("/1"), max_bytes=1024)
    assert body == b"picture at /final?size=256"
    assert server.hits == ["/1", "/2", "/3", "/final?size=256"]


def test_one_redirect_too_many_is_refused(settings: Any) -> None:
    settings.POSTLOGIN = {**TEST_POSTLOGIN, "FETCH_MAX_REDIRECTS": 2}
    with (
        http_server(redirects({"/1": "/2", "/2": "/3", "/3": "/4"})) as server,
        pytest.raises(FetchError, match="FETCH_MAX_REDIRECTS") as error,
    ):
        fetch_bytes(server.url("/1"), max_bytes=1024)
    assert error.value.reason == "too_many_redirects"
    assert server.hits == ["/1", "/2", "/3"]


def test_redirect_loops_end_at_the_limit() -> None:
    with (
        http_server(redirects({"/a": "/b", "/b": "/a"})) as server,
        pytest.raises(FetchError) as error,
    ):
        fetch_bytes(server.url("/a"), max_bytes=1024)
    assert error.value.reason == "too_many_redirects"
    assert len(server.hits) == 4  # the first request and FETCH_MAX_REDIRECTS (3) more


def test_a_redirect_without_location_is_refused() -> None:
    with http_server(lambda path, n: (302, {}, b"")) as server, pytest.raises(FetchError) as error:
        fetch_bytes(server.url("/a"), max_bytes=1024)
    assert (error.value.reason, error.value.status) == ("bad_redirect", 302)


def test_authorization_goes_to_the_first_origin_only() -> None:
    token = {"Authorization": "Bearer secret-token"}
    with raw_server(reply(body=b"photo")) as other:

        def respond(conn: socket.socket, server: RawServer) -> None:
            if len(server.requests) == 1:
                send_response(conn, "302 Found", {"Location": "/same-origin"})
            else:
                send_response(conn, "302 Found", {"Location": other.url("/elsewhere")})

        with raw_server(respond) as first:
            assert fetch_bytes(first.url("/me"), max_bytes=1024, headers=token)[0] == b"photo"
    assert first.header(0, "Authorization") == "Bearer secret-token"
    assert first.header(1, "Authorization") == "Bearer secret-token"
    assert other.header(0, "Authorization") is None
    assert other.header(0, "Host") == f"127.0.0.1:{other.port}"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://127.0.0.1:99999/a.png",
        "http://127.0.0.1:port/a.png",
        "http:///a.png",
        "http://exa mple.test/",
        "http://no-address.test/",  # the resolver answers, with no address
        f"http://{'a' * 70}.test/",  # a DNS label is at most 63 characters
    ],
)
def test_malformed_urls_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stub_resolver(monkeypatch, {"no-address.test": []})
    spy = connect_spy(monkeypatch)
    with pytest.raises(FetchError) as error:
        fetch_bytes(url, max_bytes=1024)
    assert not isinstance(error.value, TransientFetchError)
    assert error.value.reason in ("bad_url", "unresolvable"), error.value
    assert spy.attempts == []


@pytest.mark.parametrize(
    ("errno", "transient"), [(socket.EAI_NONAME, False), (socket.EAI_AGAIN, True)]
)
def test_resolution_failures(errno: int, transient: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(errno, "stubbed resolver failure")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(FetchError) as error:
        fetch_bytes("https://avatars.example.com/a.png", max_bytes=1024)
    assert error.value.reason == "unresolvable"
    assert isinstance(error.value, TransientFetchError) is transient


def test_tls_to_the_pinned_address_verifies_the_host_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = make_local_ca(tmp_path, "avatars.test")
    monkeypatch.setattr(net, "CA_BUNDLE", str(ca.ca_file))
    stub_resolver(monkeypatch, {"avatars.test": ["127.0.0.1"]})
    with raw_server(reply(body=b"over tls"), tls=ca.server_context) as server:
        body, _type = fetch_bytes(server.url("/a.png", host="avatars.test"), max_bytes=1024)
    assert body == b"over tls"
    assert ca.server_names == ["avatars.test"], "SNI names the host, not the address"
    assert server.header(0, "Host") == f"avatars.test:{server.port}"


def test_tls_certificate_for_another_host_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = make_local_ca(tmp_path, "someone-else.test")
    monkeypatch.setattr(net, "CA_BUNDLE", str(ca.ca_file))
    stub_resolver(monkeypatch, {"avatars.test": ["127.0.0.1"]})
    with (
        raw_server(reply(body=b"secret"), tls=ca.server_context) as server,
        pytest.raises(FetchError) as error,
    ):
        fetch_bytes(server.url("/a.png", host="avatars.test"), max_bytes=1024)
    assert error.value.reason == "tls_error"
    assert not isinstance(error.value, TransientFetchError)
    assert server.requests == [] or server.requests == [b""], "no request was sent"


def test_tls_certificate_from_an_unknown_authority_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CA_BUNDLE left at certifi's bundle, which does not know the test CA.
    ca = make_local_ca(tmp_path, "avatars.test")
    stub_resolver(monkeypatch, {"avatars.test": ["127.0.0.1"]})
    with (
        raw_server(reply(body=b"secret"), tls=ca.server_context) as server,
        pytest.raises(FetchError) as error,
    ):
        fetch_bytes(server.url("/a.png", host="avatars.test"), max_bytes=1024)
    assert error.value.reason == "tls_error"
