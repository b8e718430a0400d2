"""Red-team properties: issue/verify round trips and a refresh-token reuse model."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.clock import FrozenClock
from meshsec.secret import Secret
from meshsec.stores import MemoryStore
from meshsec.tokens import (
    RESERVED_CLAIMS,
    InvalidKey,
    KeySet,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokens,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
)

from ._helpers import key_for

ISSUER = "https://issuer.example"
START = 1_800_000_000

_scope = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\'),
    min_size=1,
    max_size=12,
)
_name = st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s)


@given(
    subject=_name,
    audiences=st.lists(_name, min_size=1, max_size=3, unique=True),
    scopes=st.lists(_scope, max_size=5),
    extra=st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in {"iss", "sub", "aud", "act"}),
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
        max_size=3,
    ),
)
def test_issue_verify_round_trip(
    subject: str, audiences: list[str], scopes: list[str], extra: dict[str, object]
) -> None:
    extra = {k: v for k, v in extra.items() if k not in RESERVED_CLAIMS}
    clock = FrozenClock(START)
    keys = KeySet([key_for("EdDSA")])
    issuer = TokenIssuer(issuer=ISSUER, keys=keys, clock=clock)
    token = issuer.issue(subject, audiences, scopes=scopes, claims=extra)
    for audience in audiences:
        verifier = TokenVerifier(issuer=ISSUER, audience=audience, keys=keys, clock=clock)
        claims = verifier.verify(token, scopes=scopes)
        assert claims.subject == subject
        assert claims.scopes == frozenset(scopes)
        assert set(claims.audience) == set(audiences)
        for name, value in extra.items():
            assert claims.raw[name] == value


@given(st.lists(st.sampled_from(["ES256", "EdDSA", "ES384", "RS256", "PS256"]), max_size=4))
def test_jwks_round_trip_keeps_every_kid_and_algorithm(algs: list[str]) -> None:
    keys = KeySet([key_for(alg) for alg in dict.fromkeys(algs)])
    again = KeySet.from_jwks(json.dumps(keys.to_jwks()))
    assert {(k.kid, k.alg) for k in again} == {(k.kid, k.alg) for k in keys}
    assert not any(k.can_sign for k in again)


@given(st.lists(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.none()))))
def test_jwks_entries_that_are_not_objects_are_skipped(entries: list[object]) -> None:
    real = key_for("EdDSA").to_jwk()
    keys = KeySet.from_jwks({"keys": [*entries, real, json.dumps(key_for("ES256").to_jwk())]})
    assert [k.kid for k in keys] == [real["kid"]]


def test_stringified_jwk_inside_a_jwks_is_not_trusted() -> None:
    text = json.dumps(key_for("ES256").to_jwk())
    assert KeySet.from_jwks({"keys": [text]}).get(key_for("ES256").kid) is None
    with pytest.raises(InvalidKey):
        KeySet.from_jwks({"keys": text})


@given(st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=12))
def test_refresh_reuse_model(choices: list[int]) -> None:
    """Presenting the newest token rotates; presenting any older one kills the family."""
    clock = FrozenClock(START)
    refresh = RefreshTokens(MemoryStore(clock=clock), clock=clock)
    first, _ = refresh.issue("alice")
    issued: list[Secret[str]] = [first]
    alive = True
    for choice in choices:
        index = min(choice, len(issued) - 1)
        presented = issued[index]
        newest = index == len(issued) - 1
        if alive and newest:
            token, family = refresh.rotate(presented)
            assert family.generation == len(issued)
            issued.append(token)
            continue
        with pytest.raises(RefreshTokenInvalid) as info:
            refresh.rotate(presented)
        if alive:
            assert isinstance(info.value, RefreshTokenReused)
        alive = False
    if not alive:
        for token in issued:
            with pytest.raises(RefreshTokenInvalid):
                refresh.rotate(token)


@given(st.floats(min_value=0, max_value=7200, allow_nan=False))
def test_refresh_idle_lifetime_property(elapsed: float) -> None:
    clock = FrozenClock(START)
    refresh = RefreshTokens(
        MemoryStore(clock=clock), idle_ttl=timedelta(hours=1), absolute_ttl=timedelta(days=1),
        clock=clock,
    )  # fmt: skip
    token, _ = refresh.issue("alice")
    clock.advance(elapsed)
    if elapsed < 3600:
        assert refresh.rotate(token)[1].generation == 1
    else:
        with pytest.raises(RefreshTokenInvalid):
            refresh.rotate(token)


_JWK_BASES = [key_for(a).to_jwk() for a in ("EdDSA", "ES256", "ES384", "RS256", "PS256")]
_MEMBER = st.sampled_from(["kty", "crv", "x", "y", "n", "e", "d", "alg", "use", "key_ops", "kid"])
_MEMBER_VALUE = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.lists(st.text(max_size=5), max_size=3)
    | st.sampled_from(["AQAB", "AA", "", "EdDSA", "ES256", "HS256", "sig", "enc", "P-256", "OKP"])
)


@given(
    st.sampled_from(_JWK_BASES),
    st.dictionaries(_MEMBER | st.sampled_from(["k", "p", "q", "dp", "oth"]), _MEMBER_VALUE),
    st.sets(st.sampled_from(["kty", "crv", "x", "y", "n", "e", "alg"]), max_size=2),
)
def test_near_valid_jwks_raise_only_invalid_key(
    base: dict[str, object], changes: dict[str, object], dropped: set[str]
) -> None:
    jwk = {k: v for k, v in {**base, **changes}.items() if k not in dropped}
    try:
        key = SigningKey.from_jwk(jwk)
    except InvalidKey:
        pass
    else:
        assert key.alg in {"EdDSA", "ES256", "ES384", "RS256", "PS256"}
    KeySet.from_jwks({"keys": [jwk]})  # never raises for one bad entry


@pytest.mark.parametrize("member", ["k", "p", "q", "dp", "oth"])
def test_stray_private_member_names_on_a_public_jwk_do_not_crash(member: str) -> None:
    for base in _JWK_BASES:
        jwk = {**base, member: None}
        try:
            key = SigningKey.from_jwk(jwk)
        except InvalidKey:
            continue
        assert not key.can_sign
