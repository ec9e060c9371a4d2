"""The one outbound HTTP client every job uses.

Each request goes only where :mod:`postlogin.addresses` allows: the URL's host is resolved once,
every address is vetted, and the connection is made to the vetted address while the ``Host``
header, TLS SNI and certificate check still use the host name. Redirects are followed here, one
hop at a time, each hop checked like the first. Every fetch has connect and read timeouts, an
overall time budget, and a byte cap enforced while the body streams in.

Errors carry a stable ``reason`` and say whether they are ``permanent``.
:class:`TransientFetchError` (timeouts, connection errors, the :data:`RETRIED_STATUSES`) means
trying again later may help; any other :class:`FetchError` (a refused address or redirect, a bad
URL, an oversized or compressed body, any other status) is final, and the job runner fails the
job at once. The public face of this module, for a project's own job kinds, is
:mod:`postlogin.http`.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import socket
import time
from collections.abc import Mapping
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import addresses
from .conf import postlogin_settings
from .numbers import ascii_int

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs


class FetchError(Exception):
    """A request that will not succeed by retrying it (refused URL, 404, too large...).

    ``reason`` is a stable code (``address_not_allowed``, ``too_large``, ``http_status``...);
    ``status`` the HTTP status when the server answered one. ``permanent`` is what the job
    runner reads: True here, False for :class:`TransientFetchError`.
    """

    permanent = True

    def __init__(self, reason: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class TransientFetchError(FetchError):
    """A download that may succeed later (connection error, timeout, 5xx, 429).

    ``retry_after`` is the server's ``Retry-After``, in seconds, when it sent one.
    """

    permanent = False

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, message, status=status)
        self.retry_after = retry_after


#: The HTTP statuses that are retried, for every outbound call: request timeout, too early, too
#: many requests, and the server errors that say "not now" (internal error, bad gateway,
#: unavailable, gateway timeout). Any other error status fails at once: 501 and 505 will not
#: change by asking again, nor will a 4xx.
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

#: What ``verify`` means for TLS: True checks certificates against certifi's bundle (requests'
#: default); a path to a CA bundle replaces it.
CA_BUNDLE: bool | str = True


@dataclass(frozen=True)
class _Hop:
    """One request of a fetch: the prepared request and where it may connect."""

    request: requests.PreparedRequest
    destination: addresses.Destination


class _PinnedAdapter(HTTPAdapter):
    """Connects to one vetted address, whatever the request's host name resolves to now.

    Only the connection pool's address changes: the request keeps its URL, so the ``Host``
    header, SNI and the certificate check are those of the host name.

    The pool's address is set by requests' ``build_connection_pool_key_attributes`` hook. That
    alone would fail open (a requests that does not call the hook connects to the host name,
    resolved again, which is what DNS rebinding needs), so the pools made here also use
    connections that refuse, just before opening their socket, to go anywhere but the vetted
    address; and no proxy is ever used.
    """

    def __init__(self, destination: addresses.Destination) -> None:
        # Set first: HTTPAdapter.__init__ calls init_poolmanager.
        self.destination = destination
        #: The sockets this adapter's connections opened (the body's reads are timed on them).
        self.sockets: list[socket.socket] = []
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned_pools(self.destination, self.sockets)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # A proxy connects wherever it likes; its pools are not the pinned ones.
        raise FetchError("not_pinned", "refused to use a proxy: it would bypass the address check")

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        host_params["host"] = self.destination.address
        host_params["port"] = self.destination.port
        if host_params["scheme"] == "https":
            # urllib3 takes it; the type stub lists only the keys requests itself sets.
            pool_kwargs["server_hostname"] = self.destination.hostname  # type: ignore[typeddict-unknown-key]
        return host_params, pool_kwargs


def _pinned_pools(
    destination: addresses.Destination, sockets: list[socket.socket]
) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes, by scheme, whose connections open to ``destination`` only (and
    add the sockets they open to ``sockets``)."""

    class PinnedConnection(HTTPConnection):
        def connect(self) -> None:
            _refuse_unless_pinned(self, destination)
            super().connect()
            sockets.append(self.sock)

    class PinnedTLSConnection(HTTPSConnection):
        def connect(self) -> None:
            _refuse_unless_pinned(self, destination)
            super().connect()
            sockets.append(self.sock)

    class PinnedPool(HTTPConnectionPool):
        ConnectionCls = PinnedConnection

    class PinnedTLSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedTLSConnection

    return {"http": PinnedPool, "https": PinnedTLSPool}


def _refuse_unless_pinned(connection: HTTPConnection, destination: addresses.Destination) -> None:
    """Raise unless ``connection`` is about to open a socket to the vetted address and port.

    urllib3 hands its ``_dns_host`` to getaddrinfo: when that is the vetted address itself, no
    DNS is asked and the socket goes there. Anything else (a host name, another address, a
    tunnel through a proxy, an attribute renamed by a future urllib3) is refused.
    """
    host = getattr(connection, "_dns_host", None)
    tunnel = getattr(connection, "_tunnel_host", "unknown")
    if (
        _same_address(host, destination.address)
        and connection.port == destination.port
        and tunnel is None
    ):
        return
    raise FetchError(
        "not_pinned",
        f"refused to connect to {host}:{connection.port} for {destination.hostname}: the "
        f"connection was not pinned to the vetted address {destination.address}:"
        f"{destination.port} (a requests or urllib3 older than django-postlogin requires?)",
    )


def _same_address(host: object, address: str) -> bool:
    try:
        return ipaddress.ip_address(str(host)) == ipaddress.ip_address(address)
    except ValueError:
        return False


def fetch_bytes(
    url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None
) -> tuple[bytes, str]:
    """GET ``url`` and return ``(body, content_type)``, reading at most ``max_bytes``.

    Redirects are followed up to ``FETCH_MAX_REDIRECTS``; an ``Authorization`` header is sent
    to the first URL's origin only.
    """
    connect_timeout, read_timeout = postlogin_settings.HTTP_TIMEOUT
    # The read timeout bounds each wait for data, not a body that trickles in a byte at a time.
    deadline = time.monotonic() + connect_timeout + read_timeout
    request_headers = {
        "User-Agent": postlogin_settings.HTTP_USER_AGENT,
        # Compressed transfer would let a small body expand past the cap; pictures are
        # compressed already.
        "Accept-Encoding": "identity",
        **(headers or {}),
    }
    origin = _origin(url)
    for _hop in range(postlogin_settings.FETCH_MAX_REDIRECTS + 1):
        if _origin(url) != origin:
            request_headers.pop("Authorization", None)
        hop = _prepare(url, request_headers, deadline)
        with (
            closing(_PinnedAdapter(hop.destination)) as adapter,
            _send(adapter, hop, deadline) as response,
        ):
            if response.status_code in _REDIRECT_STATUS:
                url = _redirect_target(response, hop)
                continue
            _check_status(response, hop)
            body = _read_body(response, hop, max_bytes, deadline, adapter.sockets)
            return body, response.headers.get("Content-Type", "")
    raise FetchError(
        "too_many_redirects",
        f"more than {postlogin_settings.FETCH_MAX_REDIRECTS} redirects (FETCH_MAX_REDIRECTS)",
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or ""), parts.port
    except ValueError:
        return "", "", None


def _prepare(
    url: str,
    headers: Mapping[str, str],
    deadline: float,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> _Hop:
    """Check the URL, resolve and vet its host (before ``deadline``), and build the request."""
    try:
        request = requests.Request(method, url, headers=dict(headers), data=body).prepare()
        parts = urlsplit(request.url or "")
        port = parts.port
    except (requests.RequestException, ValueError) as exc:
        raise FetchError("bad_url", f"not a valid URL: {url[:200]!r} ({exc})") from exc
    allowed_schemes = ("https", "http") if postlogin_settings.FETCH_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed_schemes:
        hint = " (plain http needs FETCH_ALLOW_HTTP)" if parts.scheme == "http" else ""
        what = f"{parts.scheme}: URLs" if parts.scheme else "URLs without a scheme"
        raise FetchError("scheme_not_allowed", f"{what} are refused{hint}")
    if parts.username is not None or parts.password is not None:
        raise FetchError("credentials_in_url", "URLs with credentials are refused")
    if not parts.hostname:
        raise FetchError("bad_url", f"no host in URL: {url[:200]!r}")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        destination = addresses.destination(parts.hostname, port, timeout=_remaining(deadline))
    except addresses.ResolutionTimeout as exc:
        raise TransientFetchError("timeout", f"{exc} (HTTP_TIMEOUT)") from exc
    except addresses.AddressRefused as exc:
        raise FetchError(
            "address_not_allowed", f"{exc} (allow it with FETCH_ALLOWED_NETWORKS)"
        ) from exc
    except addresses.Unresolvable as exc:
        error = TransientFetchError if exc.transient else FetchError
        raise error("unresolvable", str(exc)) from exc
    # The pool connects to an address, so name the host ourselves (with its port, if any).
    request.headers["Host"] = parts.netloc
    return _Hop(request=request, destination=destination)


def _remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; raises the timeout error when none are."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TransientFetchError("timeout", "the request took longer than HTTP_TIMEOUT allows")
    return remaining


def _send(adapter: _PinnedAdapter, hop: _Hop, deadline: float) -> requests.Response:
    remaining = _remaining(deadline)
    connect_timeout, read_timeout = postlogin_settings.HTTP_TIMEOUT
    host = hop.destination.hostname
    try:
        return adapter.send(
            hop.request,
            stream=True,
            timeout=(min(connect_timeout, remaining), min(read_timeout, remaining)),
            verify=CA_BUNDLE,
            proxies={},
        )
    except requests.Timeout as exc:
        raise TransientFetchError("timeout", f"timed out talking to {host}: {exc}") from exc
    except requests.exceptions.SSLError as exc:
        raise FetchError("tls_error", f"TLS failure with {host}: {exc}") from exc
    except ValueError as exc:  # requests' InvalidURL and InvalidHeader among them
        raise FetchError("bad_url", f"cannot request {host}: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise TransientFetchError(
            "connection_error", f"cannot connect to {host}: {type(exc).__name__}"
        ) from exc


def _redirect_target(response: requests.Response, hop: _Hop) -> str:
    location = response.headers.get("Location", "").strip()
    if not location:
        raise FetchError(
            "bad_redirect",
            f"HTTP {response.status_code} from {hop.destination.hostname} without a Location",
            status=response.status_code,
        )
    return urljoin(hop.request.url or "", location)


def status_error(status: int, headers: Mapping[str, str], message: str) -> FetchError:
    """The error for an answer whose ``status`` is not the one asked for: transient (with the
    ``Retry-After`` of ``headers``, a case-insensitive mapping) for :data:`RETRIED_STATUSES`,
    permanent for any other."""
    if status in RETRIED_STATUSES:
        return TransientFetchError(
            "http_status",
            message,
            status=status,
            retry_after=retry_after_seconds(headers.get("Retry-After")),
        )
    return FetchError("http_status", message, status=status)


def _check_status(response: requests.Response, hop: _Hop) -> None:
    status = response.status_code
    if status != 200:
        raise status_error(
            status, response.headers, f"HTTP {status} from {hop.destination.hostname}"
        )
    _check_encoding(response, hop)


def _check_encoding(response: requests.Response, hop: _Hop) -> None:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchError(
            "unexpected_encoding",
            f"{hop.destination.hostname} sent Content-Encoding {encoding!r}, not asked for",
            status=response.status_code,
        )


def _read_body(
    response: requests.Response,
    hop: _Hop,
    max_bytes: int,
    deadline: float,
    sockets: list[socket.socket],
) -> bytes:
    declared = ascii_int(response.headers.get("Content-Length"))
    if declared is not None and declared > max_bytes:
        raise FetchError(
            "too_large", f"Content-Length {declared} is over the {max_bytes}-byte cap", status=200
        )
    body = bytearray()
    raw: urllib3.BaseHTTPResponse = response.raw
    _connect_timeout, read_timeout = postlogin_settings.HTTP_TIMEOUT
    too_slow = TransientFetchError(
        "timeout", f"{hop.destination.hostname} sent the body too slowly (HTTP_TIMEOUT)", status=200
    )
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            # Each wait for data ends by the deadline, not a whole read timeout after it.
            _wait_at_most(sockets, min(read_timeout, remaining))
            # read1: return whatever one socket read brings, so that the deadline is checked
            # between reads even when the server sends a byte at a time.
            chunk = raw.read1(_CHUNK, decode_content=False)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > max_bytes:
                raise FetchError("too_large", f"body is over the {max_bytes}-byte cap", status=200)
    except urllib3.exceptions.ReadTimeoutError as exc:
        if time.monotonic() >= deadline:
            raise too_slow from exc
        raise TransientFetchError(
            "timeout", f"{hop.destination.hostname} stopped sending: {exc}"
        ) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise TransientFetchError(
            "connection_error",
            f"connection to {hop.destination.hostname} broke: {type(exc).__name__}",
        ) from exc
    raise too_slow


def _wait_at_most(sockets: list[socket.socket], seconds: float) -> None:
    """Make the next read on ``sockets`` give up after ``seconds`` (urllib3 has no way to change
    a response's read timeout once it was sent)."""
    for sock in sockets:
        with suppress(OSError):  # closed already: nothing more will be read from it
            sock.settimeout(seconds)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    seconds = ascii_int(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, eq=False)
class Response:
    """The answer to :func:`request`: ``status``, ``headers`` (case-insensitive) and the body,
    read within the byte cap and the time budget.

    The status line is what the server decided; a body that was too large, compressed, or cut
    off does not change it. Such a body raises its error only when read (:attr:`body`,
    :meth:`json`), so a caller that needs only the status never sees it.
    """

    status: int
    headers: Mapping[str, str]
    url: str
    raw_body: bytes = b""
    body_error: FetchError | None = None

    @property
    def body(self) -> bytes:
        """The whole body; raises the :class:`FetchError` met while reading it."""
        if self.body_error is not None:
            raise self.body_error
        return self.raw_body

    def json(self) -> Any:
        """The body parsed as JSON; a body that is not JSON raises ``FetchError("bad_body")``."""
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise FetchError(
                "bad_body", f"HTTP {self.status} from {_origin(self.url)[1]}: not JSON ({exc})"
            ) from exc


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = 64 * 1024,
) -> Response:
    """Send one request to ``url`` through the same guard as :func:`fetch_bytes` (vetted address,
    timeouts, byte cap) and return the :class:`Response`, whatever its status. Redirects are not
    followed: a 3xx is returned like any status. Connection errors and timeouts raise
    :class:`TransientFetchError`; a refused or malformed URL a permanent :class:`FetchError`.
    """
    connect_timeout, read_timeout = postlogin_settings.HTTP_TIMEOUT
    deadline = time.monotonic() + connect_timeout + read_timeout
    request_headers = {
        "User-Agent": postlogin_settings.HTTP_USER_AGENT,
        # A compressed body could expand past the cap.
        "Accept-Encoding": "identity",
        **(headers or {}),
    }
    hop = _prepare(url, request_headers, deadline, method=method, body=body)
    with (
        closing(_PinnedAdapter(hop.destination)) as adapter,
        _send(adapter, hop, deadline) as response,
    ):
        # Read (within the cap and the deadline) so that the server sees its answer taken.
        raw_body, body_error = b"", None
        try:
            _check_encoding(response, hop)
            raw_body = _read_body(response, hop, max_bytes, deadline, adapter.sockets)
        except FetchError as exc:
            body_error = exc
        return Response(
            status=response.status_code,
            headers=response.headers,
            url=hop.request.url or url,
            raw_body=raw_body,
            body_error=body_error,
        )


def post(
    url: str, body: bytes, headers: Mapping[str, str], *, max_bytes: int = 64 * 1024
) -> tuple[int, dict[str, str]]:
    """POST ``body`` to ``url`` (:func:`request`); return ``(status, response headers)``. The
    response body is read up to ``max_bytes`` and dropped."""
    response = request("POST", url, body=body, headers=headers, max_bytes=max_bytes)
    return response.status, dict(response.headers)
