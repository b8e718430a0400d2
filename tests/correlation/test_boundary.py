"""The propagation boundary: who may receive baggage and tracestate."""

from __future__ import annotations

import pytest

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
