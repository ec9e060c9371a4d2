"""Which network addresses outbound requests may reach: the SSRF guard of :mod:`postlogin.net`.

A URL from a provider names a host; what matters is the address we connect to. A host is
resolved once, every address it resolves to is vetted, and the connection is then made to that
vetted address, so neither an odd spelling (``0x7f000001``, ``127.1``, ``[::ffff:127.0.0.1]``)
nor a DNS answer that changes between check and use can lead somewhere else.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .conf import postlogin_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud instance metadata services. Refused even inside ``FETCH_ALLOWED_NETWORKS``: allowing a
#: private range for an internal image host must never open the instance's credentials.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack...
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)

#: NAT64 well-known prefix: the last 32 bits are an IPv4 address the gateway will connect to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(ValueError):
    """The host resolves to an address outbound requests may not reach."""


class Unresolvable(OSError):
    """The host name did not resolve; ``transient`` when asking again later may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ResolutionTimeout(Unresolvable):
    """The resolver did not answer in the time the request had left."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


@dataclass(frozen=True)
class Destination:
    """Where one request goes: the host as named in the URL, and the vetted address to use."""

    hostname: str
    address: str
    port: int


def allowed_networks() -> list[IPNetwork]:
    """``FETCH_ALLOWED_NETWORKS``, parsed (the values were validated when the settings loaded)."""
    return [ipaddress.ip_network(network) for network in postlogin_settings.FETCH_ALLOWED_NETWORKS]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and would reach (mapped, 6to4, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # Teredo (2001::/32) is left to is_global, which refuses it.
    return None


def _is_public(address: IPAddress) -> bool:
    """A globally routable unicast address. ``is_global`` alone is not enough: on Python 3.11
    it is True for multicast and for IPv6 forms that embed a private IPv4 address."""
    if address.is_multicast or address.is_unspecified or address.is_link_local:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _is_public(embedded)
        if address.is_site_local or address.is_reserved:
            # ::/8 (which holds the deprecated IPv4-compatible ::a.b.c.d) and other unassigned
            # blocks: nothing legitimate serves pictures from there.
            return False
    return address.is_global


def canonical(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 (``::ffff:a.b.c.d``) as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IPAddress, allowed: Iterable[IPNetwork]) -> str | None:
    """Why ``address`` may not be reached, or None when it may."""
    address = canonical(address)
    if address in METADATA_ADDRESSES or _embedded_ipv4(address) in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address.version == net.version and address in net for net in allowed):
        return None
    if _is_public(address):
        return None
    return "not a public address (loopback, private, link-local, multicast or reserved)"


def _getaddrinfo(hostname: str, port: int, timeout: float | None) -> list[Any]:
    """``socket.getaddrinfo``, given up on after ``timeout`` seconds.

    getaddrinfo has no timeout of its own (the system resolver's can add up to tens of seconds),
    so with a timeout it runs in a daemon thread: a lookup still hanging when the time is up is
    left to finish there, and holds neither the caller nor the process's exit.
    """
    if timeout is None:
        return socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    answer: queue.SimpleQueue[tuple[list[Any] | None, BaseException | None]] = queue.SimpleQueue()

    def lookup() -> None:
        try:
            answer.put((socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM), None))
        except BaseException as exc:  # handed to the caller, whatever it is
            answer.put((None, exc))

    threading.Thread(target=lookup, name="postlogin-resolve", daemon=True).start()
    try:
        answers, error = answer.get(timeout=max(timeout, 0.0))
    except queue.Empty:
        raise ResolutionTimeout(
            f"cannot resolve {hostname!r}: no answer within {timeout:.2f} s"
        ) from None
    if error is not None:
        raise error
    assert answers is not None
    return answers


def resolve(hostname: str, port: int, *, timeout: float | None = None) -> list[IPAddress]:
    """Every address ``hostname`` resolves to, in the resolver's order of preference; raises
    :class:`ResolutionTimeout` when the resolver takes longer than ``timeout`` seconds."""
    try:
        answers = _getaddrinfo(hostname, port, timeout)
    except socket.gaierror as exc:
        transient = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
        raise Unresolvable(f"cannot resolve {hostname!r}: {exc}", transient=transient) from exc
    except UnicodeError as exc:
        raise Unresolvable(f"cannot resolve {hostname!r}: {exc}", transient=False) from exc
    addresses: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in answers:
        if family in (socket.AF_INET, socket.AF_INET6):
            # An IPv6 sockaddr may carry a scope ("fe80::1%eth0"), which ip_address accepts.
            address = ipaddress.ip_address(str(sockaddr[0]))
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise Unresolvable(f"{hostname!r} has no IPv4 or IPv6 address", transient=False)
    return addresses


def destination(hostname: str, port: int, *, timeout: float | None = None) -> Destination:
    """Resolve ``hostname`` once (within ``timeout`` seconds) and vet every address; the first
    one is where to connect.

    A host with any refused address is refused as a whole: an answer that mixes public and
    private addresses is how DNS rebinding attacks look.
    """
    # "example.com." and "example.com" are the same host; the dot would also hide an IP
    # literal ("127.0.0.1.") from the numeric parsing below.
    lookup = hostname[:-1] if hostname.endswith(".") else hostname
    addresses = resolve(lookup, port, timeout=timeout)
    allowed = allowed_networks()
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            shown = hostname if str(address) == lookup else f"{hostname} ({address})"
            raise AddressRefused(f"{shown} is {reason}")
    return Destination(hostname=lookup, address=str(canonical(addresses[0])), port=port)
