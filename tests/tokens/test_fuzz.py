"""Hypothesis: whatever arrives, verify raises only TokenError subclasses."""

from __future__ import annotations

import base64
import contextlib
import json

from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import TokenError
from meshsec.tokens import KeySet, TokenVerifier

from ._helpers import key_for
from .conftest import AUDIENCE, ISSUER

_VERIFIER = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=KeySet([key_for("EdDSA")]))
_B64 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.", max_size=120
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_token_errors(data: bytes) -> None:
    with contextlib.suppress(TokenError):
        _VERIFIER.verify(data)


@given(st.text(max_size=600))
def test_arbitrary_text_raises_only_token_errors(text: str) -> None:
    with contextlib.suppress(TokenError):
        _VERIFIER.verify(text)


@given(_B64, _B64, _B64)
def test_arbitrary_base64ish_segments_raise_only_token_errors(a: str, b: str, c: str) -> None:
    with contextlib.suppress(TokenError):
        _VERIFIER.verify(f"{a}.{b}.{c}")


@given(
    st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jku", "x5t", "zip"]), json_values, max_size=5
    )
    | json_values,
    st.dictionaries(
        st.sampled_from(
            ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "cnf", "act", "client_id"]
        ),
        json_values,
        max_size=11,
    )
    | json_values,
    st.binary(max_size=70),
)
def test_arbitrary_json_headers_and_payloads_raise_only_token_errors(
    header: object, payload: object, signature: bytes
) -> None:
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    token = f"{_segment(header)}.{_segment(payload)}.{encoded}"
    with contextlib.suppress(TokenError):
        _VERIFIER.verify(token)


@given(
    st.dictionaries(
        st.sampled_from(
            ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "cnf", "act", "client_id"]
        ),
        json_values,
        max_size=11,
    )
)
def test_validly_signed_arbitrary_payloads_raise_only_token_errors(payload: dict) -> None:
    # The signature is good, so every claim rule is exercised on hostile values.
    key = key_for("EdDSA")
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    signature = base64.urlsafe_b64encode(key.sign(signing_input.encode())).rstrip(b"=").decode()
    with contextlib.suppress(TokenError):
        _VERIFIER.verify(f"{signing_input}.{signature}")
