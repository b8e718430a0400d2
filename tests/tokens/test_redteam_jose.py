"""Red-team: JOSE header, JSON and encoding tricks against TokenVerifier.

Every token here that reaches the signature check is signed with the trusted
key, so a test can only pass if the rule under test (not the signature)
refuses the token.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError, TokenError
from meshsec.tokens import (
    AlgorithmNotAllowed,
    BadSignature,
    ForbiddenHeader,
    InsufficientScope,
    InvalidKey,
    KeySet,
    MalformedToken,
    MissingClaim,
    RevocationList,
    SigningKey,
    TokenIssuer,
    TokenReplayed,
    TokenRevoked,
    TokenVerifier,
    UnknownCritical,
    UnknownKey,
    WrongAudience,
    WrongTokenType,
)

from ._helpers import b64, forge, key_for, segment
from .conftest import AUDIENCE, ISSUER, Env


def _signed(env: Env, header: dict[str, Any], payload: dict[str, Any] | bytes) -> str:
    return forge(header, payload, env.keys.primary)


def _raw_payload(env: Env, extra: bytes) -> bytes:
    """A valid payload's JSON with ``extra`` members spliced in as raw text."""
    return json.dumps(env.payload()).encode()[:-1] + b"," + extra + b"}"


# -- deep nesting inside a validly signed token --------------------------------


@pytest.mark.parametrize("depth", [70, 500, 900])
def test_signed_deeply_nested_payload_raises_malformed_not_recursion_error(
    env: Env, depth: int
) -> None:
    payload = _raw_payload(env, b'"x":' + b"[" * depth + b"]" * depth)
    token = _signed(env, env.header(), payload)
    assert len(token) <= 8192  # the default size limit does not save us here
    with pytest.raises(MalformedToken):
        env.verifier.verify(token)


def test_signed_deep_act_chain_raises_malformed_not_recursion_error(env: Env) -> None:
    act: dict[str, Any] = {"sub": "a"}
    for _ in range(300):
        act = {"sub": "a", "act": act}
    text = json.dumps(act, separators=(",", ":")).encode()
    token = _signed(env, env.header(), _raw_payload(env, b'"act":' + text))
    with pytest.raises(MalformedToken):
        env.verifier.verify(token)


def test_moderate_nesting_still_accepted(env: Env) -> None:
    value: Any = "leaf"
    for _ in range(20):
        value = {"n": [value]}
    token = _signed(env, env.header(), env.payload(profile=value))
    assert env.verifier.verify(token).to_dict()["profile"] == value


def test_issuer_refuses_unserializably_deep_claims_with_config_error(env: Env) -> None:
    value: Any = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(ConfigError):
        env.issuer.issue("web", AUDIENCE, claims={"deep": value})


# -- scope parsing ---------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\u2003", "\t", "\n", "\x1c", "\x1f", "\x85", "\u2028"])
def test_non_space_whitespace_in_scope_cannot_grant_a_second_scope(
    env: Env, separator: str
) -> None:
    token = _signed(env, env.header(), env.payload(scope=f"orders:read{separator}admin"))
    with pytest.raises(InsufficientScope):
        env.verifier.verify(token, scopes=["admin"])
    with pytest.raises(InsufficientScope):
        env.verifier.verify(token, scopes=["orders:read"])


def test_scope_with_extra_spaces_parses_to_the_named_scopes(env: Env) -> None:
    token = _signed(env, env.header(), env.payload(scope="  a  b "))
    assert env.verifier.verify(token).scopes == {"a", "b"}


@pytest.mark.parametrize("scope", [["orders:read"], {"orders:read": True}, 1, True])
def test_scope_that_is_not_a_string_rejected(env: Env, scope: object) -> None:
    token = _signed(env, env.header(), env.payload(scope=scope))
    with pytest.raises(MissingClaim):
        env.verifier.verify(token)


# -- act chains --------------------------------------------------------------------


@pytest.mark.parametrize(
    "act",
    [
        {"sub": "svc-a", "act": "svc-b"},
        {"sub": "svc-a", "act": {"sub": 7}},
        {"sub": "svc-a", "act": {"sub": ""}},
        {"sub": "svc-a", "act": {"sub": "svc-b", "act": ["svc-c"]}},
        {"sub": "svc-a", "act": {"act": {"sub": "svc-c"}}},
    ],
)
def test_malformed_inner_act_level_rejected_not_silently_truncated(
    env: Env, act: dict[str, Any]
) -> None:
    token = _signed(env, env.header(), env.payload(act=act))
    with pytest.raises(MissingClaim):
        env.verifier.verify(token)


def test_well_formed_act_chain_is_read_in_full(env: Env) -> None:
    act = {"sub": "svc-a", "act": {"sub": "svc-b", "act": {"sub": "svc-c"}}}
    claims = env.verifier.verify(_signed(env, env.header(), env.payload(act=act)))
    assert claims.actor == "svc-a"
    assert claims.actor_chain == ("svc-a", "svc-b", "svc-c")


# -- header tricks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    [
        "eddsa",
        "EDDSA",
        "EdDSA ",
        " EdDSA",
        "EdDSA\x00",
        "Ed\u200bDSA",
        "\uff25\uff44\uff24\uff33\uff21",  # fullwidth EdDSA, NFKC-equal to EdDSA
        "ES256",
        "HS256",
        "none",
        "nOnE",
        " none",
        "none\t",
        ["EdDSA"],
        {"name": "EdDSA"},
        1,
        True,
        None,
        "",
    ],
)
def test_alg_spelling_and_type_variants_rejected(env: Env, alg: object) -> None:
    token = _signed(env, env.header(alg=alg), env.payload())  # None removes alg
    with pytest.raises(AlgorithmNotAllowed):
        env.verifier.verify(token)


@pytest.mark.parametrize("kid", [7, True, ["k"], {"k": 1}, "", "k" * 257])
def test_kid_of_wrong_type_or_size_rejected(env: Env, kid: object) -> None:
    with pytest.raises(UnknownKey):
        env.verifier.verify(_signed(env, env.header(kid=kid), env.payload()))


def test_kid_homoglyph_and_normalization_variants_do_not_match(env: Env) -> None:
    kid = env.keys.primary.kid
    variants = [
        kid.upper() if kid.upper() != kid else kid.lower(),
        kid + "\u200b",
        "\u202e" + kid,
        kid[:-1] + "\u0430",  # Cyrillic a
        kid + "\x00",
        " " + kid,
    ]
    for variant in variants:
        with pytest.raises(UnknownKey):
            env.verifier.verify(_signed(env, env.header(kid=variant), env.payload()))


@pytest.mark.parametrize(
    "typ",
    [
        "at+jwt ",
        " at+jwt",
        "at+jwt\x00",
        "application/application/at+jwt",
        "at-jwt",
        "jwt",
        "JWT",
        "\uff41t+jwt",
        "at+jwt;charset=utf-8",
        ["at+jwt"],
        1,
        None,
    ],
)
def test_typ_variants_rejected(env: Env, typ: object) -> None:
    header = env.header(typ=typ)  # None removes typ
    with pytest.raises(WrongTokenType):
        env.verifier.verify(_signed(env, header, env.payload()))


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"])
def test_typ_spellings_rfc7515_allows_accepted(env: Env, typ: str) -> None:
    assert env.verifier.verify(_signed(env, env.header(typ=typ), env.payload()))


@pytest.mark.parametrize("crit", [[], [""], ["exp"], "exp", {}, None, 0, False])
def test_any_crit_member_rejected_even_empty_or_null(env: Env, crit: object) -> None:
    header = {**env.header(), "crit": crit}
    with pytest.raises(UnknownCritical):
        env.verifier.verify(_signed(env, header, env.payload()))


@pytest.mark.parametrize("b64_value", [False, True, "false", None])
def test_b64_header_rejected_whatever_its_value(env: Env, b64_value: object) -> None:
    header = {**env.header(), "b64": b64_value}
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(_signed(env, header, env.payload()))


@pytest.mark.parametrize("name", ["jwk", "jku", "x5u", "x5c"])
def test_key_location_headers_rejected_even_when_null(env: Env, name: str) -> None:
    header = {**env.header(), name: None}
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(_signed(env, header, env.payload()))


# -- JSON number and type tricks in claims ------------------------------------------


@pytest.mark.parametrize(
    "literal",
    [b"1e400", b"-1e400", b"9" * 5000, b"true", b'"1800000300"', b"null", b"[1800000300]", b"{}"],
)
def test_exp_json_tricks_rejected(env: Env, literal: bytes) -> None:
    payload = {k: v for k, v in env.payload().items() if k != "exp"}
    raw = json.dumps(payload).encode()[:-1] + b',"exp":' + literal + b"}"
    with pytest.raises((MissingClaim, MalformedToken)):
        env.verifier.verify(_signed(env, env.header(), raw))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", 7),
        ("sub", ["web"]),
        ("sub", ""),
        ("jti", 1),
        ("jti", ""),
        ("iss", [ISSUER]),
        ("client_id", 3),
        ("aud", [AUDIENCE, 5]),
        ("aud", [[AUDIENCE]]),
        ("aud", []),
        ("aud", {"aud": AUDIENCE}),
    ],
)
def test_claims_of_the_wrong_json_type_rejected(env: Env, claim: str, value: object) -> None:
    token = _signed(env, env.header(), env.payload(**{claim: value}))
    with pytest.raises((MissingClaim, TokenError)) as info:
        env.verifier.verify(token)
    assert info.type is not TokenError


def test_audience_is_compared_exactly_not_normalized(env: Env) -> None:
    for aud in [AUDIENCE.upper(), AUDIENCE + "/", AUDIENCE + "\u200b", " " + AUDIENCE]:
        with pytest.raises(WrongAudience):
            env.verifier.verify(_signed(env, env.header(), env.payload(aud=aud)))


# -- compact serialization shape and base64url --------------------------------------


def test_extra_segments_and_jwe_shape_rejected(env: Env) -> None:
    good = _signed(env, env.header(), env.payload())
    for token in [good + ".", good + ".x", good + ".a.b", "." + good, good.replace(".", "..", 1)]:
        with pytest.raises(MalformedToken):
            env.verifier.verify(token)


def test_base64_variants_of_a_valid_token_rejected(env: Env) -> None:
    good = _signed(env, env.header(), env.payload())
    header, payload, signature = good.split(".")
    variants = [
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}=.{signature}",
        f" {good}",
        f"{good} ",
        f"{header}.{payload[:10]} {payload[10:]}.{signature}",
        f"{header}.{payload[:10]}\n{payload[10:]}.{signature}",
        f"{header}.{payload.replace('-', '+').replace('_', '/')}.{signature}"
        if ("-" in payload or "_" in payload)
        else f"{header}.{payload}+.{signature}",
    ]
    for token in variants:
        with pytest.raises((MalformedToken, BadSignature)):
            env.verifier.verify(token)


def test_standard_alphabet_signature_rejected(env: Env) -> None:
    while True:
        good = env.issuer.issue("web", AUDIENCE)
        header, payload, signature = good.split(".")
        if "-" in signature or "_" in signature:
            break
    swapped = signature.replace("-", "+").replace("_", "/")
    with pytest.raises(BadSignature):
        env.verifier.verify(f"{header}.{payload}.{swapped}")


@given(st.binary(min_size=0, max_size=64))
def test_padded_header_segment_never_accepted(data: bytes) -> None:
    padded = b64(data) + "=" * (-len(b64(data)) % 4 or 4)
    token = f"{padded}.{segment({'sub': 'x'})}.AAAA"
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=KeySet([key_for("EdDSA")]))
    with pytest.raises(TokenError):
        verifier.verify(token)


# -- ECDSA signature malleability ---------------------------------------------------


def _high_s(token: str) -> str:
    """The same ES256 signature with s replaced by n - s (also valid for ECDSA)."""
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    header, payload, signature = token.split(".")
    raw = __import__("base64").urlsafe_b64decode(signature + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    flipped = r.to_bytes(32, "big") + (order - s).to_bytes(32, "big")
    return f"{header}.{payload}.{b64(flipped)}"


@pytest.fixture
def es256(env: Env) -> tuple[TokenIssuer, TokenVerifier]:
    keys = KeySet([key_for("ES256")])
    assert isinstance(key_for("ES256")._public, ec.EllipticCurvePublicKey)
    revocations = RevocationList(clock=env.clock)
    issuer = TokenIssuer(issuer=ISSUER, keys=keys, clock=env.clock)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=keys, revocations=revocations, clock=env.clock
    )
    return issuer, verifier


def test_ecdsa_malleated_signature_cannot_replay_a_one_time_token(
    es256: tuple[TokenIssuer, TokenVerifier],
) -> None:
    issuer, verifier = es256
    token = issuer.issue("web", AUDIENCE)
    twin = _high_s(token)
    assert twin != token
    verifier.verify(token, one_time=True)
    # Whether or not the twin's signature is accepted, it names the same jti.
    with pytest.raises((TokenReplayed, BadSignature)):
        verifier.verify(twin, one_time=True)


def test_ecdsa_malleated_signature_of_a_revoked_token_is_still_revoked(
    es256: tuple[TokenIssuer, TokenVerifier],
) -> None:
    issuer, verifier = es256
    token = issuer.issue("web", AUDIENCE)
    claims = verifier.verify(token)  # cached now
    verifier.revoke(claims.token_id, claims.expires_at)
    for variant in (token, _high_s(token)):
        with pytest.raises((TokenRevoked, BadSignature)):
            verifier.verify(variant)


# -- small-order Ed25519 keys ----------------------------------------------------------

_SMALL_ORDER_Y = [
    "00" * 32,
    "01" + "00" * 31,
    "01" + "00" * 30 + "80",  # the identity with the sign bit set
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ec" + "ff" * 30 + "7f",
    "ed" + "ff" * 30 + "7f",
    "ee" + "ff" * 30 + "ff",
]


@pytest.mark.parametrize("point", _SMALL_ORDER_Y)
def test_small_order_ed25519_keys_refused(point: str) -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(bytes.fromhex(point)), "kid": "weak"}
    with pytest.raises(InvalidKey):
        SigningKey.from_jwk(jwk)
    assert KeySet.from_jwks({"keys": [jwk]}).get("weak") is None


def test_identity_key_universal_forgery_is_not_possible_through_a_jwks(env: Env) -> None:
    identity = bytes.fromhex("01" + "00" * 31)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(identity), "kid": "weak", "alg": "EdDSA"}
    keys = KeySet.from_jwks({"keys": [jwk, key_for("EdDSA").to_jwk()]})
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, clock=env.clock)
    header = {"alg": "EdDSA", "kid": "weak", "typ": "at+jwt"}
    # R = identity, S = 0 satisfies [S]B = R + [k]A for A = identity, any message.
    forged = f"{segment(header)}.{segment(env.payload(sub='admin'))}.{b64(identity + bytes(32))}"
    with pytest.raises(UnknownKey):
        verifier.verify(forged)


@pytest.mark.parametrize("payload", ["text", None, 5, ["b"]])
def test_detached_payload_of_the_wrong_type_is_a_token_error(payload: object) -> None:
    key = key_for("EdDSA")
    jws = key.sign_detached(b"text")
    with pytest.raises(MalformedToken):
        KeySet([key]).verify_detached(jws, payload)  # type: ignore[arg-type]


@pytest.mark.parametrize("alg", [["EdDSA"], {"alg": "EdDSA"}, None, 256, b"EdDSA"])
def test_generate_with_a_non_string_algorithm_is_invalid_key(alg: object) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.generate(alg)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [1024, 2047, 8193, 10**6, "3072", 3072.0, True])
def test_generate_rsa_size_out_of_range_or_wrong_type_is_invalid_key(bits: object) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.generate("PS256", rsa_bits=bits)  # type: ignore[arg-type]
