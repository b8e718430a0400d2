"""The propagation boundary: who may receive baggage and tracestate."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.util import parse_url

from meshsec.correlation import PropagationBoundary

BOUNDARY = PropagationBoundary(
    hosts=("*.internal.example", "localhost", "10.0.0.1", "[::1]", "Mixed.Case.Example"),
    trust_domains=("example.org",),
)

INSIDE = [
    None,
    "https://api.internal.example/x",
    "https://API.Internal.EXAMPLE/",
    "https://a.b.internal.example:8443/p?q=1#f",
    "http://localhost:8080",
    "http://localhost./health",
    "http://10.0.0.1/",
    "http://[::1]:80/",
    "https://mixed.case.example",
    "grpc://svc.internal.example:50051",
    "spiffe://example.org/ns/prod/sa/billing",
    "spiffe://example.org",
]

OUTSIDE = [
    "https://internal.example/",  # the apex is not below itself
    "https://evilinternal.example/",
    "https://internal.example.evil.com/",
    "https://api.internal.example.evil.com/",
    "https://partner.example/",
    "http://10.0.0.1.evil.com/",
    "http://10.0.0.10/",
    # Parser differentials: userinfo, backslashes, encodings, whitespace.
    "https://api.internal.example@evil.com/",
    "https://user:pw@api.internal.example/",
    "https://evil.com\\@api.internal.example/",
    "https://api.internal.example\\.evil.com/",
    "https://evil.com#@api.internal.example",
    "https://evil.com?@api.internal.example",
    "https://%61pi.internal.example/",
    "https://api.internal.example%2F@evil.com/",
    "https://api.internal.exampl\u0435/",  # Cyrillic e
    " https://api.internal.example/",
    "https://api.internal.example/\r\nHost: evil",
    "https://api.internal.example/ path",
    "//api.internal.example/",
    "api.internal.example",
    "localhost",
    "https://",
    "",
    "https://a..internal.example/",
    # SPIFFE IDs outside, or malformed.
    "spiffe://evil.org/ns/prod",
    "spiffe://example.org.evil/ns",
    "spiffe://evil.org/example.org",
    "SPIFFE://example.org/x",
    "spiffe://user@example.org/x",
    "spiffe://example.org:443/x",
    "spiffe://example.org/a//b",
    "spiffe://example.org/x?q",
    "spiffe://Example.org/x",
]


@pytest.mark.parametrize("destination", INSIDE)
def test_inside(destination: str | None) -> None:
    assert BOUNDARY.contains(destination)


@pytest.mark.parametrize("destination", OUTSIDE)
def test_outside(destination: str) -> None:
    assert not BOUNDARY.contains(destination)


def test_default_boundary_contains_only_no_destination() -> None:
    empty = PropagationBoundary()
    assert empty.contains(None)
    assert not empty.contains("http://localhost/")
    assert not empty.contains("spiffe://example.org/x")


def test_destination_objects_are_compared_by_their_string_form() -> None:
    class SpiffeId:
        def __str__(self) -> str:
            return "spiffe://example.org/svc"

    assert BOUNDARY.contains(SpiffeId())


def test_patterns_are_normalised() -> None:
    boundary = PropagationBoundary(hosts=["*.Internal.Example."], trust_domains=["Example.ORG"])
    assert boundary.hosts == ("*.internal.example",)
    assert boundary.trust_domains == ("example.org",)


PIECES = [
    "https://",
    "http://",
    "spiffe://",
    "api.internal.example",
    "example.org",
    "evil.com",
    "localhost",
    "@",
    "\\",
    "/",
    "?",
    "#",
    ":",
    ":443",
    "%2F",
    "%40",
    ".",
    "[",
    "]",
    "::1",
    " ",
    "\t",
    "\r\n",
    "\x00",
    "\u0435",
]


@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join) | st.text())
def test_no_parser_differential_can_put_a_foreign_host_inside(destination: str) -> None:
    inside = BOUNDARY.contains(destination)  # never raises
    if not inside or destination.startswith("spiffe://"):
        return
    # Whatever meshsec accepted, the parsers that actually connect agree on the host.
    stdlib = urlsplit(destination).hostname
    urllib3_host = parse_url(destination).host
    assert stdlib is not None
    assert urllib3_host is not None
    for raw in (stdlib, urllib3_host.lower()):
        host = raw.removesuffix(".").strip("[]")
        assert host in {"localhost", "10.0.0.1", "::1", "mixed.case.example"} or host.endswith(
            ".internal.example"
        )
