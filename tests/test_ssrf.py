"""The SSRF guard, table-driven: every refused URL form is refused before any connection.

A canary server listens on 127.0.0.1: the loopback forms below all point at it, and it must see
no connection at all. Other addresses (private, link-local, metadata...) are never connected to
for real: names come from a stubbed resolver, and a connect spy records every connection attempt
(it lets only loopback through), so the assertion is that nothing even tried.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from postlogin.avatars import AvatarRejected, fetch_avatar_image
from postlogin.net import FetchError, fetch_bytes

from .network import ConnectSpy, RawServer, raw_server, send_response, stub_resolver

#: Names the stubbed resolver knows. Nothing else is resolved (literals are parsed).
NAMES = {
    "canary.test": ["127.0.0.1"],
    "canary6.test": ["::1"],
    "internal.test": ["10.1.2.3"],
    "metadata.google.internal": ["169.254.169.254"],
    "169.254.169.254.nip.io": ["169.254.169.254"],
    # A public address plus a private one: how DNS rebinding answers look.
    "mixed.test": ["93.184.215.14", "10.0.0.7"],
    "mixed-loopback.test": ["93.184.215.14", "127.0.0.1"],
}

#: Every form of loopback / unspecified address we know of, aimed at the canary's port.
LOOPBACK_FORMS = [
    ("dotted quad", "http://127.0.0.1:{port}/a.png", "address_not_allowed"),
    ("localhost", "http://localhost:{port}/a.png", "address_not_allowed"),
    ("uppercase scheme and host", "HTTP://LOCALHOST:{port}/a.png", "address_not_allowed"),
    ("short form", "http://127.1:{port}/", "address_not_allowed"),
    ("hex integer", "http://0x7f000001:{port}/", "address_not_allowed"),
    ("decimal integer", "http://2130706433:{port}/", "address_not_allowed"),
    ("octal", "http://0177.0.0.1:{port}/", "address_not_allowed"),
    ("octal integer", "http://017700000001:{port}/", "address_not_allowed"),
    ("mixed hex", "http://0x7f.0.0.1:{port}/", "address_not_allowed"),
    ("zero padded", "http://127.000.000.001:{port}/", "address_not_allowed"),
    ("trailing dot", "http://127.0.0.1.:{port}/", "address_not_allowed"),
    ("unspecified", "http://0.0.0.0:{port}/", "address_not_allowed"),
    ("unspecified short", "http://0:{port}/", "address_not_allowed"),
    ("IPv6 loopback", "http://[::1]:{port}/", "address_not_allowed"),
    ("IPv6 unspecified", "http://[::]:{port}/", "address_not_allowed"),
    ("IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:{port}/", "address_not_allowed"),
    ("IPv4-mapped IPv6 hex", "http://[::ffff:7f00:1]:{port}/", "address_not_allowed"),
    ("IPv4-mapped long", "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/", "address_not_allowed"),
    ("IPv4-compatible IPv6", "http://[::127.0.0.1]:{port}/", "address_not_allowed"),
    ("name resolving to loopback", "http://canary.test:{port}/", "address_not_allowed"),
    ("name resolving to ::1", "http://canary6.test:{port}/", "address_not_allowed"),
    ("public and loopback answer", "http://mixed-loopback.test:{port}/", "address_not_allowed"),
    ("credentials", "http://user:secret@127.0.0.1:{port}/", "credentials_in_url"),
    ("host hidden after @", "http://example.com@127.0.0.1:{port}/", "credentials_in_url"),
    # requests decodes the host; what is vetted is what requests would connect to.
    ("percent-encoded host", "http://%31%32%37.0.0.1:{port}/", "address_not_allowed"),
    ("gopher", "gopher://127.0.0.1:{port}/_GET", "scheme_not_allowed"),
    ("dict", "dict://127.0.0.1:{port}/info", "scheme_not_allowed"),
    ("no scheme", "127.0.0.1:{port}/a.png", "scheme_not_allowed"),
    ("scheme-relative", "//127.0.0.1:{port}/a.png", "scheme_not_allowed"),
]

#: Addresses that must never be connected to, not even attempted.
OTHER_FORMS = [
    ("private 10/8", "http://10.0.0.1/a.png"),
    ("private 172.16/12", "http://172.16.0.1/a.png"),
    ("private 192.168/16", "http://192.168.1.1/a.png"),
    ("carrier-grade NAT", "http://100.64.0.1/a.png"),
    ("link-local", "http://169.254.1.1/a.png"),
    ("AWS/GCP/Azure metadata", "http://169.254.169.254/latest/meta-data/"),
    ("AWS ECS credentials", "http://169.254.170.2/v2/credentials"),
    ("AWS metadata IPv6", "http://[fd00:ec2::254]/latest/meta-data/"),
    ("Alibaba metadata", "http://100.100.100.200/latest/meta-data/"),
    ("Oracle metadata", "http://192.0.0.192/opc/v2/instance/"),
    ("metadata by name", "http://metadata.google.internal/computeMetadata/v1/"),
    ("metadata by wildcard DNS", "http://169.254.169.254.nip.io/"),
    ("metadata hex", "http://0xa9fea9fe/"),
    ("metadata decimal", "http://2852039166/"),
    ("metadata octal", "http://0251.0376.0251.0376/"),
    ("metadata IPv4-mapped", "http://[::ffff:169.254.169.254]/"),
    ("metadata IPv4-mapped hex", "http://[::ffff:a9fe:a9fe]/"),
    ("metadata via NAT64", "http://[64:ff9b::a9fe:a9fe]/"),
    ("metadata via 6to4", "http://[2002:a9fe:a9fe::]/"),
    ("private via NAT64", "http://[64:ff9b::a00:1]/"),
    ("IPv6 link-local", "http://[fe80::1]/"),
    ("IPv6 unique local", "http://[fc00::1]/"),
    ("IPv6 site-local", "http://[fec0::1]/"),
    ("multicast", "http://224.0.0.1/"),
    ("IPv6 multicast", "http://[ff02::1]/"),
    ("IPv6 global multicast", "http://[ff0e::1]/"),
    ("reserved 240/4", "http://240.0.0.1/"),
    ("broadcast", "http://255.255.255.255/"),
    ("documentation TEST-NET-1", "http://192.0.2.1/"),
    ("benchmarking", "http://198.18.0.1/"),
    ("IPv6 documentation", "http://[2001:db8::1]/"),
    ("Teredo", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"),
    ("name resolving to private", "http://internal.test/a.png"),
    ("public and private answer", "http://mixed.test/a.png"),
    ("https to private", "https://10.0.0.1/a.png"),
    ("https to metadata", "https://169.254.169.254/"),
]


@pytest.fixture
def guarded(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RawServer, ConnectSpy]]:
    """No network is allowed (http is, so that http forms reach the address check); the
    canary listens on 127.0.0.1."""
    from .network import connect_spy

    settings.POSTLOGIN = {"FETCH_ALLOW_HTTP": True, "FETCH_ALLOWED_NETWORKS": []}
    stub_resolver(monkeypatch, NAMES)
    with raw_server() as canary:
        spy = connect_spy(monkeypatch)
        yield canary, spy
        monkeypatch.undo()  # the canary's own shutdown does not go through the spy


@pytest.mark.parametrize(
    ("form", "template", "reason"), LOOPBACK_FORMS, ids=[form for form, *_ in LOOPBACK_FORMS]
)
def test_loopback_forms_are_refused_and_the_canary_sees_nothing(
    guarded: tuple[RawServer, ConnectSpy], form: str, template: str, reason: str
) -> None:
    canary, spy = guarded
    url = template.format(port=canary.port)
    with pytest.raises(FetchError) as refused:
        fetch_bytes(url, max_bytes=1024)
    assert refused.value.reason == reason, str(refused.value)
    assert spy.attempts == []
    assert canary.connections == 0


@pytest.mark.parametrize(("form", "url"), OTHER_FORMS, ids=[form for form, _ in OTHER_FORMS])
def test_private_and_metadata_addresses_are_refused_before_connecting(
    guarded: tuple[RawServer, ConnectSpy], form: str, url: str
) -> None:
    _canary, spy = guarded
    with pytest.raises(AvatarRejected) as refused:
        fetch_avatar_image(url)
    assert refused.value.reason == "address_not_allowed", str(refused.value)
    assert "FETCH_ALLOWED_NETWORKS" in str(refused.value)
    assert spy.attempts == []


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a.png", "file:///etc/passwd", "data:image/png;base64,iVBORw0KGgo="],
)
def test_other_schemes_are_refused(guarded: tuple[RawServer, ConnectSpy], url: str) -> None:
    _canary, spy = guarded
    with pytest.raises(FetchError) as refused:
        fetch_bytes(url, max_bytes=1024)
    assert refused.value.reason == "scheme_not_allowed"
    assert spy.attempts == []


def test_plain_http_needs_the_setting(
    settings: Any, monkeypatch: pytest.MonkeyPatch, guarded: tuple[RawServer, ConnectSpy]
) -> None:
    _canary, spy = guarded
    settings.POSTLOGIN = {"FETCH_ALLOW_HTTP": False, "FETCH_ALLOWED_NETWORKS": ["127.0.0.0/8"]}
    with pytest.raises(FetchError, match="FETCH_ALLOW_HTTP") as refused:
        fetch_bytes("http://canary.test/a.png", max_bytes=1024)
    assert refused.value.reason == "scheme_not_allowed"
    assert spy.attempts == []


#: Where a redirect from an allowed host may try to send us. ``{canary}`` is 127.0.0.2's port.
REDIRECT_TARGETS = [
    ("loopback canary", "http://127.0.0.2:{canary}/a.png"),
    ("canary hex", "http://0x7f000002:{canary}/a.png"),
    ("canary IPv4-mapped", "http://[::ffff:127.0.0.2]:{canary}/a.png"),
    ("canary scheme-relative", "//127.0.0.2:{canary}/a.png"),
    ("private", "http://10.0.0.1/a.png"),
    ("metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    ("metadata by name", "http://metadata.google.internal/computeMetadata/v1/"),
    ("name resolving to private", "http://internal.test/a.png"),
    ("file", "file:///etc/passwd"),
    ("gopher", "gopher://127.0.0.2:{canary}/_x"),
]


@pytest.mark.parametrize(
    ("target", "location"), REDIRECT_TARGETS, ids=[t for t, _ in REDIRECT_TARGETS]
)
def test_redirects_from_an_allowed_host_to_a_refused_one_are_refused(
    settings: Any, monkeypatch: pytest.MonkeyPatch, target: str, location: str
) -> None:
    from .network import connect_spy

    # Only 127.0.0.1 is allowed: the redirecting host. The canary is on 127.0.0.2.
    settings.POSTLOGIN = {"FETCH_ALLOW_HTTP": True, "FETCH_ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    stub_resolver(monkeypatch, NAMES)
    with raw_server(host="127.0.0.2") as canary:
        redirect_to = location.format(canary=canary.port)

        def redirect(conn: Any, server: RawServer) -> None:
            send_response(conn, "302 Found", {"Location": redirect_to})

        with raw_server(redirect) as allowed:
            spy = connect_spy(monkeypatch)
            with pytest.raises(AvatarRejected) as refused:
                fetch_avatar_image(allowed.url("/avatar"))
            monkeypatch.undo()
    assert refused.value.reason in ("address_not_allowed", "scheme_not_allowed")
    assert len(allowed.requests) == 1, "the allowed host was asked once"
    assert spy.attempts == ["127.0.0.1"], "nothing but the allowed host was connected to"
    assert canary.connections == 0
