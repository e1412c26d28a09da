"""Forwarding headers are believed only from the proxies named in TRUSTED_PROXIES."""

import ipaddress

import pytest

from core.proxies import client_address, trusted_networks

PROXIES = trusted_networks(("10.0.0.0/8", "2001:db8::1"))


@pytest.fixture
def https_only(settings):
    """The production settings: HTTPS redirect, with the proxy's X-Forwarded-Proto as the scheme."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True


def test_an_untrusted_peer_cannot_claim_https(client, https_only, db):
    response = client.get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_a_trusted_proxy_tells_the_scheme(client, https_only, settings, db):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client.get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.1.2.3").status_code == 200
    # the proxy's word counts both ways
    assert client.get("/", HTTP_X_FORWARDED_PROTO="http", REMOTE_ADDR="10.1.2.3").status_code == 301


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy of ours: the peer is the client
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "", "10.0.0.5"),
        # the client wrote the left part itself; our proxies appended the rest
        ("10.0.0.5", "1.1.1.1, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        ("10.0.0.5", "nonsense, 10.0.0.9", "10.0.0.9"),
        ("2001:db8::1", "[2001:db8::7]:443, 198.51.100.1:5555", "198.51.100.1"),
    ],
)
def test_the_client_is_the_right_most_address_that_is_not_a_proxy(peer, forwarded_for, client):
    assert client_address(peer, forwarded_for, PROXIES) == client
    assert ipaddress.ip_address(client_address(peer, forwarded_for, PROXIES))
