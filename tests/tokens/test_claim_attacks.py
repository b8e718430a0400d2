"""Attacks on the payload and the encoding: time, audience, issuer, JSON, base64url, tampering."""

from __future__ import annotations

import base64
import json

import pytest

from meshsec.errors import ConfigError
from meshsec.tokens import (
    BadSignature,
    MalformedToken,
    MissingClaim,
    SigningKey,
    TokenExpired,
    TokenNotYetValid,
    TokenTooLarge,
    TokenVerifier,
    WrongAudience,
    WrongIssuer,
)

from ._helpers import b64, forge, key_for, segment
from .conftest import AUDIENCE, ISSUER, Env

LEEWAY = 30


def _signed(env: Env, header_segment: str, payload_segment: str) -> str:
    signing_input = f"{header_segment}.{payload_segment}"
    return f"{signing_input}.{b64(env.keys.primary.sign(signing_input.encode()))}"


# -- time ----------------------------------------------------------------------


def test_expiry_inside_leeway_accepted(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    exp = env.verifier.verify(token).expires_at.timestamp()
    env.clock.set(exp + LEEWAY - 1)
    assert env.verifier.verify(token).subject == "web"


def test_expiry_at_leeway_edge_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    exp = env.verifier.verify(token).expires_at.timestamp()
    env.clock.set(exp + LEEWAY)
    with pytest.raises(TokenExpired):
        env.verifier.verify(token)


def test_expiry_beyond_leeway_rejected(env: Env) -> None:
    now = int(env.clock())
    token = forge(env.header(), env.payload(exp=now - LEEWAY - 1), env.keys.primary)
    with pytest.raises(TokenExpired):
        env.verifier.verify(token)


def test_not_before_at_leeway_edge_accepted(env: Env) -> None:
    now = int(env.clock())
    token = forge(env.header(), env.payload(nbf=now + LEEWAY, iat=now), env.keys.primary)
    assert env.verifier.verify(token).token_id == "jti-1"


def test_not_before_beyond_leeway_rejected(env: Env) -> None:
    now = int(env.clock())
    token = forge(env.header(), env.payload(nbf=now + LEEWAY + 1), env.keys.primary)
    with pytest.raises(TokenNotYetValid):
        env.verifier.verify(token)


def test_issued_in_the_future_beyond_leeway_rejected(env: Env) -> None:
    now = int(env.clock())
    token = forge(env.header(), env.payload(iat=now + LEEWAY + 1, nbf=None), env.keys.primary)
    with pytest.raises(TokenNotYetValid):
        env.verifier.verify(token)


@pytest.mark.parametrize("value", ["1900000000", True, None, [1], {"t": 1}, 1e400, -1e300, 10**400])
def test_exp_not_a_numeric_date_rejected(env: Env, value: object) -> None:
    payload = env.payload()
    payload["exp"] = value
    if value is None:
        del payload["exp"]
    token = (
        forge(env.header(), payload, env.keys.primary)
        if not isinstance(value, float)
        else (_signed(env, segment(env.header()), b64(_dumps_with_exp(payload, repr(value)))))
    )
    with pytest.raises((MissingClaim, MalformedToken, TokenExpired)) as info:
        env.verifier.verify(token)
    assert not isinstance(info.value, TokenExpired) or value == -1e300


def _dumps_with_exp(payload: dict, literal: str) -> bytes:
    body = {k: v for k, v in payload.items() if k != "exp"}
    text = json.dumps(body)[:-1] + f', "exp": {literal.replace("inf", "1e400")}}}'
    return text.encode()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_constants_rejected(env: Env, literal: str) -> None:
    body = segment(env.payload())
    raw = _dumps_with_exp(env.payload(), literal)
    assert body != b64(raw)
    with pytest.raises(MalformedToken):
        env.verifier.verify(_signed(env, segment(env.header()), b64(raw)))


@pytest.mark.parametrize("leeway_seconds", [-1, 301, 3600])
def test_leeway_is_bounded(env: Env, leeway_seconds: int) -> None:
    from datetime import timedelta

    with pytest.raises(ConfigError):
        TokenVerifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            keys=env.keys,
            leeway=timedelta(seconds=leeway_seconds),
        )


# -- audience, issuer, required claims -------------------------------------------


@pytest.mark.parametrize(
    "aud", ["spiffe://example.org/other", ["a", "b"], AUDIENCE + "/", AUDIENCE.upper()]
)
def test_wrong_audience_rejected(env: Env, aud: object) -> None:
    with pytest.raises(WrongAudience):
        env.verifier.verify(forge(env.header(), env.payload(aud=aud), env.keys.primary))


def test_audience_list_containing_ours_accepted(env: Env) -> None:
    token = forge(env.header(), env.payload(aud=["x", AUDIENCE]), env.keys.primary)
    assert env.verifier.verify(token).audience == ("x", AUDIENCE)


@pytest.mark.parametrize(
    "iss", ["https://issuer.example.evil", "https://issuer.example/", "HTTPS://ISSUER.EXAMPLE", "x"]
)
def test_wrong_issuer_rejected(env: Env, iss: str) -> None:
    with pytest.raises(WrongIssuer):
        env.verifier.verify(forge(env.header(), env.payload(iss=iss), env.keys.primary))


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "jti"])
def test_missing_required_claim_rejected(env: Env, claim: str) -> None:
    payload = env.payload()
    del payload[claim]
    with pytest.raises(MissingClaim):
        env.verifier.verify(forge(env.header(), payload, env.keys.primary))


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": ""},
        {"sub": 7},
        {"jti": ["x"]},
        {"aud": []},
        {"aud": [1]},
        {"scope": ["a"]},
        {"client_id": 3},
        {"act": "svc"},
        {"act": {"iss": "x"}},
    ],
)
def test_claim_of_wrong_type_rejected(env: Env, overrides: dict) -> None:
    with pytest.raises(MissingClaim):
        env.verifier.verify(forge(env.header(), env.payload(**overrides), env.keys.primary))


# -- JSON ------------------------------------------------------------------------


def test_duplicate_header_keys_rejected(env: Env) -> None:
    key = env.keys.primary
    header = f'{{"alg":"none","kid":"{key.kid}","typ":"at+jwt","alg":"EdDSA"}}'.encode()
    with pytest.raises(MalformedToken):
        env.verifier.verify(_signed(env, b64(header), segment(env.payload())))


def test_duplicate_payload_keys_rejected(env: Env) -> None:
    # Two parsers reading one token differently (sub "web" or "admin") is the attack.
    body = segment(env.payload())
    json_text = base64.urlsafe_b64decode(body + "==").decode()
    text = json_text[:-1] + ',"sub":"admin"}'
    with pytest.raises(MalformedToken):
        env.verifier.verify(_signed(env, segment(env.header()), b64(text.encode())))


def test_duplicate_nested_keys_rejected(env: Env) -> None:
    body = (
        b'{"iss":"%s","sub":"w","aud":"%s","exp":1900000000,"jti":"j","act":{"sub":"a","sub":"b"}}'
        % (
            ISSUER.encode(),
            AUDIENCE.encode(),
        )
    )
    with pytest.raises(MalformedToken):
        env.verifier.verify(_signed(env, segment(env.header()), b64(body)))


@pytest.mark.parametrize("depth", [1000, 5000])
def test_deeply_nested_header_raises_token_error_not_recursion_error(env: Env, depth: int) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=env.keys, max_token_bytes=1 << 20, clock=env.clock
    )
    for header in (
        b"[" * depth,
        b"[" * depth + b"]" * depth,
        b'{"a":' * depth + b"1" + b"}" * depth,
    ):
        with pytest.raises(MalformedToken):
            verifier.verify(f"{b64(header)}.{segment(env.payload())}.AAAA")


def test_deeply_nested_payload_raises_token_error(env: Env) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=env.keys, max_token_bytes=1 << 20, clock=env.clock
    )
    body = b'{"sub":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    with pytest.raises(MalformedToken):
        verifier.verify(_signed(env, segment(env.header()), b64(body)))


@pytest.mark.parametrize("header", [b"[]", b'"at+jwt"', b"null", b"1", b"", b"\xff\xfe{}", b"{"])
def test_header_not_a_json_object_rejected(env: Env, header: bytes) -> None:
    with pytest.raises(MalformedToken):
        env.verifier.verify(f"{b64(header)}.{segment(env.payload())}.AAAA")


def test_utf16_json_rejected(env: Env) -> None:
    header = json.dumps(env.header()).encode("utf-16")
    with pytest.raises(MalformedToken):
        env.verifier.verify(_signed(env, b64(header), segment(env.payload())))


# -- base64url ---------------------------------------------------------------------


def test_non_canonical_base64url_header_rejected(env: Env) -> None:
    header = segment(env.header())
    # Padding, standard-alphabet characters, stray whitespace, non-zero pad bits.
    variants = [
        header + "=" * (-len(header) % 4 or 4),
        header.replace("-", "+"),
        header + " ",
        " " + header,
    ]
    last = header[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(header) % 4:
        variants.append(header[:-1] + alphabet[alphabet.index(last) + 1])
    for variant in variants:
        if variant == header:
            continue
        with pytest.raises((MalformedToken, BadSignature)):
            env.verifier.verify(_signed(env, variant, segment(env.payload())))


def test_non_canonical_base64url_payload_rejected(env: Env) -> None:
    # Even signed by the trusted key (a lenient issuer), a non-canonical
    # payload encoding is refused: one token, one reading.
    payload = segment(env.payload())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    while len(payload) % 4 == 0:
        payload = segment(env.payload(pad="x" * (len(payload) % 7 + 1)))
    tweaked = payload[:-1] + alphabet[alphabet.index(payload[-1]) + 1]
    with pytest.raises(MalformedToken):
        env.verifier.verify(_signed(env, segment(env.header()), tweaked))
    with pytest.raises(MalformedToken):
        env.verifier.verify(
            _signed(env, segment(env.header()), payload + "=" * (-len(payload) % 4))
        )


def test_non_canonical_base64url_signature_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tweaked = signature[:-1] + alphabet[alphabet.index(signature[-1]) + 1]
    for variant in (tweaked, signature + "==", signature.replace("-", "+").replace("_", "/")):
        if variant == signature:
            continue
        with pytest.raises(BadSignature):
            env.verifier.verify(f"{head}.{variant}")


@pytest.mark.parametrize("token", ["", ".", "..", "a.b", "a.b.c.d", "a.b.c.d.e", "...."])
def test_wrong_segment_count_rejected(env: Env, token: str) -> None:
    with pytest.raises(MalformedToken):
        env.verifier.verify(token)


def test_non_ascii_token_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    with pytest.raises(MalformedToken):
        env.verifier.verify(token + "é")


@pytest.mark.parametrize("value", [None, 1, 1.5, ["a.b.c"], object()])
def test_token_of_wrong_type_rejected(env: Env, value: object) -> None:
    with pytest.raises(MalformedToken):
        env.verifier.verify(value)  # type: ignore[arg-type]


# -- size ------------------------------------------------------------------------


def test_oversized_token_rejected_before_parsing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from meshsec.tokens import _jose

    calls: list[bytes] = []
    original = _jose.b64decode
    monkeypatch.setattr(_jose, "b64decode", lambda s: calls.append(s) or original(s))
    token = env.issuer.issue("web", AUDIENCE, claims={"pad": "x" * 9000})
    for value in (token, token.encode(), "\u00e9" * 8193, "." * 8193):
        with pytest.raises(TokenTooLarge):
            env.verifier.verify(value)
    assert calls == []


def test_token_at_size_limit_accepted(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=env.keys, max_token_bytes=len(token), clock=env.clock
    )
    assert verifier.verify(token).subject == "web"
    tight = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=env.keys,
        max_token_bytes=len(token) - 1,
        clock=env.clock,
    )
    with pytest.raises(TokenTooLarge):
        tight.verify(token)


# -- tampering -------------------------------------------------------------------


def test_tampered_header_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    _, payload, signature = token.split(".")
    header = segment({**env.header(), "x-extra": "1"})
    with pytest.raises(BadSignature):
        env.verifier.verify(f"{header}.{payload}.{signature}")


def test_tampered_payload_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE, scopes=["orders:read"])
    header, _, signature = token.split(".")
    payload = segment(env.payload(sub="admin", scope="orders:read orders:write"))
    with pytest.raises(BadSignature):
        env.verifier.verify(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES384", "PS256", "RS256"])
def test_tampered_signature_rejected(env: Env, alg: str) -> None:
    from meshsec.tokens import KeySet, TokenIssuer

    keys = KeySet([key_for(alg)])
    token = TokenIssuer(issuer=ISSUER, keys=keys, clock=env.clock).issue("web", AUDIENCE)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, clock=env.clock)
    head, _, signature = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    for index in (0, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        with pytest.raises(BadSignature):
            verifier.verify(f"{head}.{b64(bytes(flipped))}")
    with pytest.raises(BadSignature):
        verifier.verify(f"{head}.")


def test_signature_by_other_key_with_trusted_kid_rejected(env: Env) -> None:
    impostor = SigningKey.generate()
    with pytest.raises(BadSignature):
        env.verifier.verify(forge(env.header(), env.payload(), impostor))


def test_signature_failures_look_alike(env: Env) -> None:
    # No oracle: a wrong key, a truncated, a flipped and an undecodable
    # signature all give the same error class and message.
    token = env.issuer.issue("web", AUDIENCE)
    head, _, signature = token.rpartition(".")
    candidates = [
        forge(env.header(), env.payload(), SigningKey.generate()),
        f"{head}.{signature[:-4]}",
        f"{head}.{signature[::-1]}",
        f"{head}.!!!!",
        f"{head}.{signature}=",
    ]
    seen = set()
    for candidate in candidates:
        with pytest.raises(BadSignature) as info:
            env.verifier.verify(candidate)
        seen.add((type(info.value), str(info.value)))
    assert len(seen) == 1
