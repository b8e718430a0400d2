"""Matchers, the X509-SVID peer rules, peer_id and authorize_peer, and the public surface."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

import meshsec.mtls
import meshsec.mtls.xfcc
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError, TLSError
from meshsec.identity import SpiffeId
from meshsec.mtls import (
    PeerCertificateExpired,
    PeerCertificateInvalid,
    PeerCertificateNotYetValid,
    PeerNotAuthorized,
    allow_any_of,
    allow_id,
    allow_path_prefix,
    allow_trust_domain,
    authorize_peer,
    peer_id,
)
from tests.api import assert_all_is_public, assert_raised_errors_exported
from tests.identity import certs
from tests.mtls.conftest import CLIENT, SERVER
from tests.mtls.peers import auth_events

ORDERS = SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders")


def test_public_surface():
    assert_all_is_public(meshsec.mtls)
    assert_all_is_public(meshsec.mtls.xfcc)
    assert_raised_errors_exported(meshsec.mtls)


def test_error_codes_are_stable_and_tls_errors():
    for name in meshsec.mtls.__all__:
        value = getattr(meshsec.mtls, name)
        if isinstance(value, type) and issubclass(value, TLSError):
            assert value.code.startswith("tls.")
    assert PeerNotAuthorized.code == "tls.peer_not_authorized"
    # Connection-level refusals are OSErrors so accept loops survive them.
    assert issubclass(PeerNotAuthorized, OSError)
    assert str(PeerNotAuthorized("no")) == "no"


def test_allow_id():
    matcher = allow_id(ORDERS, "spiffe://example.org/ns/prod/sa/web")
    assert matcher(ORDERS) is True
    assert matcher(SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders2")) is False
    assert "orders" in repr(matcher)
    with pytest.raises(ConfigError):
        allow_id()
    with pytest.raises(ConfigError):
        allow_id("https://example.org/orders")


def test_allow_trust_domain():
    assert allow_trust_domain("example.org")(ORDERS) is True
    assert allow_trust_domain("example.com")(ORDERS) is False
    with pytest.raises(ConfigError):
        allow_trust_domain("Example.ORG")


def test_allow_path_prefix_matches_whole_segments_only():
    matcher = allow_path_prefix("/ns/prod")
    assert matcher(ORDERS) is True
    assert matcher(SpiffeId.parse("spiffe://example.org/ns/prod")) is True
    assert matcher(SpiffeId.parse("spiffe://example.org/ns/production/sa/x")) is False
    assert matcher(SpiffeId.parse("spiffe://example.org/ns")) is False
    narrowed = allow_path_prefix("/ns/prod", trust_domain="example.com")
    assert narrowed(ORDERS) is False
    for bad in ["", "/", "ns/prod", "/ns/../x", "/ns//x"]:
        with pytest.raises(ConfigError):
            allow_path_prefix(bad)


def test_allow_any_of_and_fail_closed_matchers():
    def broken(_: SpiffeId) -> bool:
        raise RuntimeError("boom")

    matcher = allow_any_of(broken, allow_id(ORDERS))
    assert matcher(ORDERS) is True
    assert allow_any_of(broken)(ORDERS) is False
    assert allow_any_of(lambda _: "yes")(ORDERS) is False  # only an exact True admits
    with pytest.raises(ConfigError):
        allow_any_of()


@given(st.text(max_size=80))
def test_path_prefix_matcher_never_admits_other_paths(suffix):
    matcher = allow_path_prefix("/ns/prod")
    try:
        sid = SpiffeId.parse("spiffe://example.org/ns/prod" + suffix)
    except Exception:
        return
    assert matcher(sid) is (sid.segments[:2] == ("ns", "prod"))


# ---- X509-SVID rules on certificates ---------------------------------------------


def _der(cert) -> bytes:
    return cert.public_bytes(Encoding.DER)


def test_peer_id_of_certificates_and_der(ca):
    identity = ca.issue(SERVER)
    assert str(peer_id(identity.certificate)) == SERVER
    assert str(peer_id(_der(identity.certificate))) == SERVER
    with pytest.raises(TypeError):
        peer_id("spiffe://example.org/x")
    with pytest.raises(PeerCertificateInvalid):
        peer_id(b"not a certificate")
    with pytest.raises(PeerCertificateInvalid):
        peer_id(b"")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda ca: certs.expired_leaf(ca, CLIENT), PeerCertificateExpired),
        (lambda ca: certs.not_yet_valid_leaf(ca, CLIENT), PeerCertificateNotYetValid),
        (certs.leaf_without_uri_san, PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_two_uri_sans(ca, CLIENT, SERVER), PeerCertificateInvalid),
        (lambda ca: certs.ca_flagged_leaf(ca, CLIENT), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, "spiffe://example.org"), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, "spiffe://evil.org/x"), PeerCertificateInvalid),
        (lambda ca: certs.leaf_with_uri(ca, "spiffe://example.org/a/../b"), PeerCertificateInvalid),
    ],
)
def test_authorize_peer_applies_every_svid_rule(ca, make, error, events):
    cert, _ = make(ca)
    with pytest.raises(error):
        authorize_peer(cert, allow_trust_domain("example.org"), trust_domain="example.org")
    assert len(auth_events(events)) == 1


def test_authorize_peer_returns_the_id_or_denies(ca, events):
    cert = ca.issue(CLIENT).certificate
    assert str(authorize_peer(cert, allow_id(CLIENT))) == CLIENT
    with pytest.raises(PeerNotAuthorized):
        authorize_peer(cert, allow_id(SERVER))
    (event,) = auth_events(events)
    assert (event.reason, event.actor, str(event.outcome.value)) == (
        "tls.peer_not_authorized",
        CLIENT,
        "denied",
    )


def test_authorize_peer_uses_the_injected_clock(ca):
    cert = ca.issue(CLIENT, ttl=timedelta(minutes=5)).certificate
    clock = FrozenClock()
    authorize_peer(cert, allow_id(CLIENT), clock=clock)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(PeerCertificateExpired):
        authorize_peer(cert, allow_id(CLIENT), clock=clock)
