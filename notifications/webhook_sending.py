"""Sending one webhook: the address check after DNS and a POST pinned to the checked address.

Pure (no Django): the caller passes the allow-list and the platform's own service URLs.

The host is resolved when the webhook is sent, every address it resolves to is checked (loopback,
private, link-local, multicast, reserved, unspecified, anything not globally routable, and the
platform's own database, Redis and site), and the connection goes to the checked address itself
(the URL's host stays in the Host header and the TLS server name), so a DNS answer that changes
between the check and the connection (rebinding) cannot point the request elsewhere. Redirects
are never followed and no proxy from the environment is used.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "pgsql": 5432,
                 "redis": 6379, "rediss": 6379, "mysql": 3306}

# refusal codes (the caller words them for people)
LOOPBACK, PRIVATE, LINK_LOCAL, MULTICAST, RESERVED = "loopback", "private", "link_local", "multicast", "reserved"
UNSPECIFIED, NOT_GLOBAL, OWN_SERVICE, UNRESOLVABLE = "unspecified", "not_global", "own_service", "unresolvable"
HTTPS_REQUIRED, BAD_URL = "https_required", "bad_url"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL may not be sent to. ``code`` says why, ``address`` which address was at fault."""

    def __init__(self, code: str, address: str = "") -> None:
        super().__init__(f"{code} {address}".strip())
        self.code = code
        self.address = address


class SendFailed(Exception):
    """The request did not get an answer (connection refused, timeout, TLS…): worth retrying."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where it says it goes and the address it will be sent to."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str


def url_parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; AddressRefused(BAD_URL) for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AddressRefused(BAD_URL) from error
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise AddressRefused(BAD_URL)
    return scheme, host, port or DEFAULT_PORTS[scheme]


def url_host(url: str) -> str:
    """The host name of ``url`` (what the owner recognises), or "" when it has none."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is no place to send a webhook to, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(embedded) or (None if embedded.is_global else NOT_GLOBAL)
    for code, flag in ((UNSPECIFIED, address.is_unspecified), (LOOPBACK, address.is_loopback),
                       (LINK_LOCAL, address.is_link_local), (MULTICAST, address.is_multicast),
                       (PRIVATE, address.is_private), (RESERVED, address.is_reserved)):
        if flag:
            return code
    return None if address.is_global else NOT_GLOBAL


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (an IP literal is its own answer)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise AddressRefused(UNRESOLVABLE) from error
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = str(sockaddr[0]).split("%", 1)[0]  # an IPv6 zone id is not part of the address
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise AddressRefused(UNRESOLVABLE)
    return addresses


@lru_cache(maxsize=8)
def own_addresses(service_urls: tuple[str, ...]) -> frozenset[tuple[str, int]]:
    """(address, port) of the platform's own services (database, Redis, site), resolved once per process."""
    found: set[tuple[str, int]] = set()
    for url in service_urls:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            continue
        if not host:
            continue  # SQLite, a Unix socket
        try:
            found.update((address, port) for address in resolve(host, port or 80))
        except AddressRefused:
            continue
    return frozenset(found)


def target_check(url: str, *, https_only: bool, allow_hosts: Iterable[str] = (),
                 service_urls: Iterable[str] = ()) -> Target:
    """Resolve ``url``'s host now and check every address; the Target pins the first one.

    An allow-listed host (tests) may resolve to private addresses, yet never to the address and
    port of one of the platform's own services. Raises AddressRefused.
    """
    scheme, host, port = url_parts(url)
    if https_only and scheme != "https":
        raise AddressRefused(HTTPS_REQUIRED)
    allowed = host in {name.strip().lower().strip("[]") for name in allow_hosts}
    own = own_addresses(tuple(service_urls))
    own_ips = {address for address, _port in own}
    addresses = resolve(host, port)
    for text in addresses:
        address = ipaddress.ip_address(text)
        if allowed:
            if (text, port) in own:
                raise AddressRefused(OWN_SERVICE, text)
            continue
        problem = address_problem(address)
        if problem:
            raise AddressRefused(problem, text)
        if text in own_ips:
            raise AddressRefused(OWN_SERVICE, text)
    return Target(url=url, scheme=scheme, host=host, port=port, ip=addresses[0])


def _pinned_url(target: Target) -> str:
    parts = urlsplit(target.url)
    ip = f"[{target.ip}]" if ":" in target.ip else target.ip
    path = parts.path or "/"
    return f"{target.scheme}://{ip}:{target.port}{path}" + (f"?{parts.query}" if parts.query else "")


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to the target's checked address; the answer's status code.

    The URL's host travels in the Host header and as the TLS server name (the certificate is
    checked against it). Raises SendFailed when no answer came.
    """
    default = DEFAULT_PORTS[target.scheme] == target.port
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if not default:
        host_header = f"{host_header}:{target.port}"
    request_headers = {**headers, "Host": host_header, "Content-Type": "application/json"}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", _pinned_url(target), content=body, headers=request_headers,
                                           extensions={"sni_hostname": target.host})
            response = client.send(request, stream=True)
            response.close()  # the answer's body is not read: only its status counts
            return response.status_code
    except httpx.HTTPError as error:
        raise SendFailed(type(error).__name__) from error
