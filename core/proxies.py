"""Who is the client: the one place that reads forwarding headers.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are whatever the sender wrote, so they are believed
only from a direct peer named in ``TRUSTED_PROXIES`` (addresses or networks; empty by default).
Then ``REMOTE_ADDR`` becomes the right-most address of the ``X-Forwarded-For`` chain that is not
itself a trusted proxy (each proxy appends the address it received from, so everything left of
that is the client's own say). From any other peer the headers are removed, so nothing after this
middleware (allauth's rate limits, DRF's throttles, Django's ``SECURE_PROXY_SSL_HEADER``) can be
fooled by them. daphne runs without ``--proxy-headers``: ``REMOTE_ADDR`` arrives as the TCP peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """Parse ``TRUSTED_PROXIES``; a bad entry is a configuration error, raised at the first request."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _address(text: str):
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(peer: str, forwarded_for: str, networks: tuple[Network, ...]) -> str:
    """The client's address, given the direct ``peer`` and the ``X-Forwarded-For`` it sent.

    A peer that is not a trusted proxy is the client. Otherwise walk the chain from the right,
    past trusted proxies, to the first address that is not one; an entry that is not an address
    stops the walk at the last good hop (only a client would write one).
    """
    client = _address(peer)
    if not _is_trusted(client, networks):
        return peer
    for entry in reversed(forwarded_for.split(",") if forwarded_for else []):
        hop = _address(entry)
        if hop is None:
            break
        client = hop
        if not _is_trusted(hop, networks):
            break
    return str(client)


class TrustedProxyMiddleware:
    """First in MIDDLEWARE: resolve the client address and scheme before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        if networks and _is_trusted(_address(peer), networks):
            meta["REMOTE_ADDR"] = client_address(peer, meta.get("HTTP_X_FORWARDED_FOR", ""), networks)
        else:
            for name in FORWARDING_HEADERS:
                meta.pop(name, None)
        return self.get_response(request)
