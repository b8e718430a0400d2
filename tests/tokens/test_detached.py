"""Detached-payload JWS (RFC 7515 Appendix F) for signed policy bundles."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import TokenError
from meshsec.tokens import (
    AlgorithmNotAllowed,
    BadSignature,
    ForbiddenHeader,
    KeySet,
    MalformedToken,
    SigningKey,
    UnknownKey,
    WrongTokenType,
)

from ._helpers import b64, key_for, segment

PAYLOAD = b'{"policies": []}'


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES384", "PS256", "RS256"])
def test_detached_round_trip(alg: str) -> None:
    key = key_for(alg)
    jws = key.sign_detached(PAYLOAD)
    _header, middle, _ = jws.split(".")
    assert middle == ""
    assert KeySet([key]).verify_detached(jws, PAYLOAD) == key.kid
    assert KeySet.from_jwks(KeySet([key]).to_jwks()).verify_detached(jws, PAYLOAD) == key.kid


def test_detached_payload_tampered_rejected() -> None:
    key = key_for("EdDSA")
    with pytest.raises(BadSignature):
        KeySet([key]).verify_detached(key.sign_detached(PAYLOAD), PAYLOAD + b" ")


def test_detached_attached_payload_rejected() -> None:
    key = key_for("EdDSA")
    header, _, sig = key.sign_detached(PAYLOAD).split(".")
    with pytest.raises(MalformedToken):
        KeySet([key]).verify_detached(f"{header}.{b64(PAYLOAD)}.{sig}", PAYLOAD)


def test_detached_typ_confusion_rejected() -> None:
    key = key_for("EdDSA")
    keys = KeySet([key])
    with pytest.raises(WrongTokenType):
        keys.verify_detached(key.sign_detached(PAYLOAD, typ="at+jwt"), PAYLOAD)
    jws = key.sign_detached(PAYLOAD, typ="example+jws")
    assert keys.verify_detached(jws, PAYLOAD, typ="example+jws") == key.kid


def test_detached_unknown_key_rejected() -> None:
    with pytest.raises(UnknownKey):
        KeySet([key_for("ES256")]).verify_detached(key_for("EdDSA").sign_detached(b"x"), b"x")


def test_detached_alg_from_key_not_header() -> None:
    key = key_for("EdDSA")
    header = {"alg": "ES256", "kid": key.kid, "typ": "meshsec-policy+jws"}
    signing_input = f"{segment(header)}.{b64(PAYLOAD)}"
    jws = f"{segment(header)}..{b64(key.sign(signing_input.encode()))}"
    with pytest.raises(AlgorithmNotAllowed):
        KeySet([key]).verify_detached(jws, PAYLOAD)


def test_detached_embedded_jwk_not_followed() -> None:
    attacker = SigningKey.generate()
    header = {
        "alg": "EdDSA",
        "kid": attacker.kid,
        "typ": "meshsec-policy+jws",
        "jwk": attacker.to_jwk(),
    }
    signing_input = f"{segment(header)}.{b64(PAYLOAD)}"
    jws = f"{segment(header)}..{b64(attacker.sign(signing_input.encode()))}"
    with pytest.raises(ForbiddenHeader):
        KeySet([key_for("EdDSA")]).verify_detached(jws, PAYLOAD)


@given(st.text(max_size=200), st.binary(max_size=50))
def test_detached_arbitrary_input_raises_only_token_errors(jws: str, payload: bytes) -> None:
    with contextlib.suppress(TokenError):
        KeySet([key_for("EdDSA")]).verify_detached(jws, payload)
