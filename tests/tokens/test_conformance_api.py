"""Issue 2, line by line: every public name called exactly as the issue writes it."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import OKPKey

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError, MeshsecError, TokenError
from meshsec.secret import Secret
from meshsec.stores import MemoryStore, StoreUnavailable
from meshsec.tokens import (
    BadSignature,
    BindingMismatch,
    Claims,
    InsufficientScope,
    InvalidKey,
    JWKSClient,
    KeySet,
    MissingClaim,
    RefreshFamily,
    RefreshTokenReused,
    RefreshTokenRevoked,
    RefreshTokens,
    RevocationList,
    ScopeEscalation,
    SigningKey,
    TokenExpired,
    TokenIssuer,
    TokenReplayed,
    TokenRevoked,
    TokenTooLarge,
    TokenVerifier,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)

from ._helpers import b64, forge, make_certificate

ISS = "https://issuer.example"
AUD = "orders"
START = 1_800_000_000


def _decode(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def keys() -> KeySet:
    return KeySet([SigningKey.generate(alg="EdDSA")])


@pytest.fixture
def issuer(keys: KeySet, clock: FrozenClock) -> TokenIssuer:
    return TokenIssuer(issuer=ISS, keys=keys, clock=clock)


# -- SigningKey -----------------------------------------------------------


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES384", "PS256", "RS256"])
def test_signing_key_generate_alg_keyword(alg: str) -> None:
    key = SigningKey.generate(alg=alg)
    assert key.alg == alg
    assert key.can_sign


def test_signing_key_generate_defaults_to_eddsa() -> None:
    assert SigningKey.generate().alg == "EdDSA"


@pytest.mark.parametrize("alg", ["PS256", "RS256"])
def test_rsa_keys_have_at_least_2048_bits(alg: str) -> None:
    key = SigningKey.generate(alg=alg)
    public = serialization.load_pem_public_key(key.public_pem())
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size >= 2048
    with pytest.raises(InvalidKey):
        SigningKey.generate(alg=alg, rsa_bits=1024)


def test_rsa_key_under_2048_bits_refused_on_load() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidKey):
        SigningKey.from_pem(pem, alg="RS256")


def test_hs256_only_through_named_symmetric_constructor() -> None:
    with pytest.raises(InvalidKey) as caught:
        SigningKey.generate(alg="HS256")
    assert caught.value.code == InvalidKey.code
    key = SigningKey.symmetric(b"k" * 32)
    assert key.alg == "HS256"
    assert key.is_symmetric


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_symmetric_secret_shorter_than_32_bytes_refused(length: int) -> None:
    with pytest.raises(InvalidKey):
        SigningKey.symmetric(b"s" * length)
    with pytest.raises(InvalidKey):
        SigningKey.symmetric(Secret(b"s" * length))


def test_kid_is_rfc7638_thumbprint_computed_independently() -> None:
    key = SigningKey.generate(alg="EdDSA")
    public = key.to_jwk()
    # RFC 7638 §3.2: the required members only, sorted, no whitespace.
    members = {name: public[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    assert key.kid == expected.decode()
    assert key.kid == OKPKey.import_key(public).thumbprint()


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_private_material_never_in_repr(alg: str) -> None:
    key = SigningKey.generate(alg=alg)
    private = key.to_jwk(private=True)
    secret_member = private["d"]
    assert secret_member not in repr(key)
    assert secret_member not in str(key)
    symmetric = SigningKey.symmetric(b"q" * 40)
    assert "qqqq" not in repr(symmetric)


# -- KeySet -----------------------------------------------------------------


def test_keyset_to_jwks_public_parts_only_and_round_trip() -> None:
    keys = KeySet([SigningKey.generate(alg="EdDSA"), SigningKey.generate(alg="ES256")])
    jwks = keys.to_jwks()
    assert {"keys"} == set(jwks)
    for jwk in jwks["keys"]:
        assert "d" not in jwk
        assert jwk["alg"] in {"EdDSA", "ES256"}
    again = KeySet.from_jwks(jwks)
    assert sorted(k.kid for k in again) == sorted(k.kid for k in keys)
    assert KeySet.from_jwks(json.dumps(jwks)).to_jwks() == jwks


def test_keyset_rotate_overlap_then_retire(clock: FrozenClock) -> None:
    keys = KeySet([SigningKey.generate(alg="EdDSA")])
    issuer = TokenIssuer(issuer=ISS, keys=keys, clock=clock)
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock, cache_size=0)
    old_kid = keys.primary.kid
    old_token = issuer.issue("alice", AUD)
    new_key = keys.rotate()
    assert keys.primary.kid == new_key.kid != old_kid
    new_token = issuer.issue("alice", AUD)
    assert _decode(new_token.split(".")[0])["kid"] == new_key.kid
    # Overlap: the old key still verifies until it is retired.
    assert verifier.verify(old_token).subject == "alice"
    keys.retire(old_kid)
    with pytest.raises(UnknownKey):
        verifier.verify(old_token)
    assert verifier.verify(new_token).subject == "alice"


# -- JWKSClient ---------------------------------------------------------------


def test_jwks_client_signature_and_https_only() -> None:
    with pytest.raises(ConfigError):
        JWKSClient("http://127.0.0.1:9/jwks.json")
    with JWKSClient("http://127.0.0.1:9/jwks.json", session=None, unsafe_allow_http=True) as c:
        assert c.url == "http://127.0.0.1:9/jwks.json"


def test_jwks_client_unsafe_allow_http_is_audited() -> None:
    with audit.capture() as events:
        JWKSClient("http://127.0.0.1:9/jwks.json", unsafe_allow_http=True).close()
    assert any(e.action == "jwks.unsafe_allow_http" for e in events)


# -- TokenIssuer ----------------------------------------------------------------


def test_issuer_defaults_match_issue(keys: KeySet, clock: FrozenClock) -> None:
    issuer = TokenIssuer(issuer=ISS, keys=keys, clock=clock)
    payload = _decode(issuer.issue("alice", AUD).split(".")[1])
    assert payload["exp"] - payload["iat"] == timedelta(minutes=5).total_seconds()
    capped = TokenIssuer(
        issuer=ISS,
        keys=keys,
        default_ttl=timedelta(minutes=5),
        max_ttl=timedelta(minutes=10),
        clock=clock,
    )
    with pytest.raises(ConfigError):
        capped.issue("alice", AUD, ttl=timedelta(minutes=11))


def test_issue_header_and_claims_exactly(issuer: TokenIssuer, keys: KeySet) -> None:
    token = issuer.issue("alice", AUD, scopes=("orders:read", "orders:write"))
    assert isinstance(token, str)
    header_segment, payload_segment, _ = token.split(".")
    header = _decode(header_segment)
    assert header == {"typ": "at+jwt", "kid": keys.primary.kid, "alg": "EdDSA"}
    payload = _decode(payload_segment)
    assert payload["iss"] == ISS
    assert payload["sub"] == "alice"
    assert payload["aud"] == AUD
    assert payload["iat"] == payload["nbf"] == START
    assert payload["exp"] == START + 300
    assert payload["scope"] == "orders:read orders:write"
    assert payload["client_id"] == "alice"
    assert "cnf" not in payload


def test_jti_is_random_128_bit(issuer: TokenIssuer) -> None:
    jtis = {_decode(issuer.issue("alice", AUD).split(".")[1])["jti"] for _ in range(50)}
    assert len(jtis) == 50
    for jti in jtis:
        raw = base64.urlsafe_b64decode(jti + "=" * (-len(jti) % 4))
        assert len(raw) >= 16


def test_issue_positional_and_keyword_shape(issuer: TokenIssuer) -> None:
    certificate, _ = make_certificate()
    token = issuer.issue(
        "alice",
        AUD,
        scopes=("a",),
        ttl=timedelta(seconds=60),
        claims={"tenant": "t1"},
        bind_to=certificate,
    )
    payload = _decode(token.split(".")[1])
    assert payload["tenant"] == "t1"
    assert payload["exp"] - payload["iat"] == 60
    expected = base64.urlsafe_b64encode(
        hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    ).rstrip(b"=")
    assert payload["cnf"] == {"x5t#S256": expected.decode()}


@pytest.mark.parametrize(
    "claim", ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "cnf", "act"]
)
def test_reserved_claims_cannot_be_overridden(issuer: TokenIssuer, claim: str) -> None:
    with pytest.raises(ConfigError):
        issuer.issue("alice", AUD, claims={claim: "evil"})


# -- TokenVerifier ---------------------------------------------------------------


def test_verifier_signature_and_claims_shape(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(
        issuer=ISS,
        audience=AUD,
        keys=keys,
        leeway=timedelta(seconds=30),
        max_token_bytes=8192,
        revocations=None,
        cache_size=16,
        clock=clock,
    )
    token = issuer.issue("alice", AUD, scopes=("read",))
    claims = verifier.verify(token, scopes=(), peer_certificate=None)
    assert isinstance(claims, Claims)
    assert attrs.has(Claims)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        claims.subject = "mallory"  # type: ignore[misc]
    assert claims.subject == "alice"
    assert claims.scopes == frozenset({"read"})
    assert AUD in claims.audience
    assert claims.expires_at == datetime.fromtimestamp(START + 300, tz=UTC)
    assert claims.token_id == claims.raw["jti"]
    assert claims.actor is None
    assert claims.raw["iss"] == ISS


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (TokenExpired, "token.expired"),
        (BadSignature, "token.bad_signature"),
        (WrongAudience, "token.wrong_audience"),
        (TokenRevoked, "token.revoked"),
    ],
)
def test_named_error_codes_are_stable(error: type[TokenError], code: str) -> None:
    assert error.code == code
    assert issubclass(error, TokenError)
    assert issubclass(error, MeshsecError)


def test_failures_raise_their_code_and_one_audit_event(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    token = issuer.issue("alice", "billing")
    with audit.capture() as events, pytest.raises(WrongAudience) as caught:
        verifier.verify(token)
    assert caught.value.code == "token.wrong_audience"
    failures = [e for e in events if e.outcome == audit.Outcome.FAILURE]
    assert len(failures) == 1
    assert failures[0].reason == "token.wrong_audience"
    assert failures[0].category in (audit.Category.TOKEN, audit.Category.AUTHENTICATION)
    assert token not in repr(failures[0])
    assert token not in str(caught.value)


def test_expired_at_and_beyond_leeway(issuer: TokenIssuer, keys: KeySet) -> None:
    clock = FrozenClock(START)
    verifier = TokenVerifier(
        issuer=ISS, audience=AUD, keys=keys, leeway=timedelta(seconds=30), clock=clock
    )
    token = issuer.issue("alice", AUD, ttl=timedelta(seconds=60))
    clock.set(START + 60 + 29)
    assert verifier.verify(token).subject == "alice"
    clock.set(START + 60 + 31)
    with pytest.raises(TokenExpired):
        verifier.verify(token)


def test_wrong_issuer_and_typ(issuer: TokenIssuer, keys: KeySet, clock: FrozenClock) -> None:
    verifier = TokenVerifier(issuer="https://other", audience=AUD, keys=keys, clock=clock)
    with pytest.raises(WrongIssuer):
        verifier.verify(issuer.issue("alice", AUD))
    good = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    payload = _decode(issuer.issue("alice", AUD).split(".")[1])
    key = keys.primary
    for typ in ("JWT", "id_token+jwt", None):
        header = {"alg": key.alg, "kid": key.kid}
        if typ is not None:
            header["typ"] = typ
        with pytest.raises(WrongTokenType):
            good.verify(forge(header, payload, key))


@pytest.mark.parametrize("claim", ["exp", "sub", "jti"])
def test_required_claims(issuer: TokenIssuer, keys: KeySet, clock: FrozenClock, claim: str) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    payload = _decode(issuer.issue("alice", AUD).split(".")[1])
    del payload[claim]
    key = keys.primary
    with pytest.raises(MissingClaim):
        verifier.verify(forge({"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}, payload, key))


def test_oversized_token_rejected_before_parsing(keys: KeySet, clock: FrozenClock) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, max_token_bytes=8192)
    with pytest.raises(TokenTooLarge):
        verifier.verify("a" * 8193)


def test_deeply_nested_header_is_token_error(keys: KeySet) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys)
    token = b64(b"[" * 1000) + "." + b64(b"{}") + "." + b64(b"x" * 64)
    with pytest.raises(TokenError):
        verifier.verify(token)


def test_required_scopes_must_all_be_present(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    token = issuer.issue("alice", AUD, scopes=("a", "b"))
    assert verifier.verify(token, scopes=("a", "b")).subject == "alice"
    with pytest.raises(InsufficientScope):
        verifier.verify(token, scopes=("a", "c"))


def test_certificate_bound_token_needs_matching_peer_certificate(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    certificate, _ = make_certificate("client")
    other, _ = make_certificate("other")
    token = issuer.issue("alice", AUD, bind_to=certificate)
    with pytest.raises(BindingMismatch):
        verifier.verify(token)
    with pytest.raises(BindingMismatch):
        verifier.verify(token, peer_certificate=other)
    assert verifier.verify(token, peer_certificate=certificate).subject == "alice"
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert verifier.verify(token, peer_certificate=der).subject == "alice"
    assert isinstance(x509.load_der_x509_certificate(der), x509.Certificate)


# -- revocation and one-time tokens ------------------------------------------------


def test_verifier_accepts_a_bare_store_as_revocations(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    """The issue: "when a store is configured, a revoked jti fails with TokenRevoked"."""
    verifier = TokenVerifier(
        issuer=ISS, audience=AUD, keys=keys, revocations=MemoryStore(clock=clock), clock=clock
    )
    token = issuer.issue("alice", AUD)
    claims = verifier.verify(token)
    verifier.revoke(claims.token_id, claims.expires_at + timedelta(seconds=30))
    with pytest.raises(TokenRevoked) as caught:
        verifier.verify(token)
    assert caught.value.code == "token.revoked"


def test_revoke_on_the_verifiers_revocation_list(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(
        issuer=ISS, audience=AUD, keys=keys, revocations=RevocationList(clock=clock), clock=clock
    )
    token = issuer.issue("alice", AUD)
    jti = verifier.verify(token).token_id
    assert verifier.revocations is not None
    verifier.revocations.revoke(jti, START + 400)
    with pytest.raises(TokenRevoked):
        verifier.verify(token)


def test_verifier_revocations_property_is_none_without_store(keys: KeySet) -> None:
    assert TokenVerifier(issuer=ISS, audience=AUD, keys=keys).revocations is None


def test_one_time_succeeds_once(issuer: TokenIssuer, keys: KeySet, clock: FrozenClock) -> None:
    verifier = TokenVerifier(
        issuer=ISS, audience=AUD, keys=keys, revocations=MemoryStore(clock=clock), clock=clock
    )
    token = issuer.issue("alice", AUD)
    assert verifier.verify(token, one_time=True).subject == "alice"
    with pytest.raises(TokenReplayed):
        verifier.verify(token, one_time=True)


class _DownStore(MemoryStore):
    def get(self, key: str) -> bytes | None:
        raise StoreUnavailable("down")


def test_store_outage_fails_closed_by_default(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(
        issuer=ISS, audience=AUD, keys=keys, revocations=_DownStore(clock=clock), clock=clock
    )
    with pytest.raises(StoreUnavailable) as caught:
        verifier.verify(issuer.issue("alice", AUD))
    assert caught.value.code == "store.unavailable"


def test_unsafe_fail_open_on_verifier_is_allowed_and_audited(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    with audit.capture() as events:
        verifier = TokenVerifier(
            issuer=ISS,
            audience=AUD,
            keys=keys,
            revocations=_DownStore(clock=clock),
            unsafe_fail_open=True,
            clock=clock,
        )
        assert verifier.verify(issuer.issue("alice", AUD)).subject == "alice"
    actions = [e.action for e in events]
    assert "revocation.unsafe_fail_open" in actions
    assert "revocation.check_failed_open" in actions


def test_unsafe_fail_open_without_a_store_is_config_error(keys: KeySet) -> None:
    with pytest.raises(ConfigError):
        TokenVerifier(issuer=ISS, audience=AUD, keys=keys, unsafe_fail_open=True)
    with pytest.raises(ConfigError):
        TokenVerifier(
            issuer=ISS,
            audience=AUD,
            keys=keys,
            revocations=RevocationList(),
            unsafe_fail_open=True,
        )


def test_revocations_of_the_wrong_type_is_config_error(keys: KeySet) -> None:
    with pytest.raises(ConfigError):
        TokenVerifier(issuer=ISS, audience=AUD, keys=keys, revocations="redis://")  # type: ignore[arg-type]


# -- exchange -------------------------------------------------------------------


def test_exchange_shape_and_act_chain(keys: KeySet, clock: FrozenClock) -> None:
    issuer = TokenIssuer(issuer=ISS, keys=keys, clock=clock)
    subject_token = issuer.issue("alice", "gateway", scopes=("read", "write"))
    token = issuer.exchange(subject_token, audience=AUD, scopes=("read",), actor="gateway")
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    claims = verifier.verify(token)
    assert claims.subject == "alice"
    assert claims.actor == "gateway"
    assert claims.raw["act"] == {"sub": "gateway"}
    assert claims.scopes == frozenset({"read"})
    with pytest.raises(ScopeEscalation) as caught:
        issuer.exchange(subject_token, audience=AUD, scopes=("admin",), actor="gateway")
    assert isinstance(caught.value, TokenError)


# -- refresh tokens -----------------------------------------------------------------


def test_refresh_tokens_shape_rotation_and_reuse(clock: FrozenClock) -> None:
    refresh = RefreshTokens(
        MemoryStore(clock=clock),
        idle_ttl=timedelta(hours=1),
        absolute_ttl=timedelta(days=1),
        clock=clock,
    )
    first, family = refresh.issue("alice")
    assert isinstance(family, RefreshFamily)
    assert first.reveal() not in repr(first)
    second, info = refresh.rotate(first)
    assert info.family_id == family.family_id
    third, _ = refresh.rotate(second.reveal())  # a plain str is accepted too
    with audit.capture() as events, pytest.raises(RefreshTokenReused):
        refresh.rotate(first)
    assert any(e.reason == RefreshTokenReused.code for e in events)
    with pytest.raises(RefreshTokenRevoked):
        refresh.rotate(third)


def test_refresh_tokens_stored_only_as_hashes(clock: FrozenClock) -> None:
    store = MemoryStore(clock=clock)
    refresh = RefreshTokens(
        store, idle_ttl=timedelta(hours=1), absolute_ttl=timedelta(days=1), clock=clock
    )
    token, _ = refresh.issue("alice")
    dump = repr(store.__dict__).encode()
    assert token.reveal().encode() not in dump


def test_single_signing_key_accepted_as_keys(clock: FrozenClock) -> None:
    key = SigningKey.generate(alg="ES256")
    issuer = TokenIssuer(issuer=ISS, keys=key, clock=clock)
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=key, clock=clock)
    assert verifier.verify(issuer.issue("alice", AUD)).subject == "alice"
    public_only = TokenVerifier(issuer=ISS, audience=AUD, keys=key.public(), clock=clock)
    assert public_only.verify(issuer.issue("bob", AUD)).subject == "bob"
    with pytest.raises(ConfigError):
        TokenIssuer(issuer=ISS, keys=key.public(), clock=clock)  # cannot sign
    shared = SigningKey.symmetric(b"k" * 32)
    hs_issuer = TokenIssuer(issuer=ISS, keys=shared, clock=clock)
    hs_verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=shared, clock=clock)
    assert hs_verifier.verify(hs_issuer.issue("carol", AUD)).subject == "carol"


def test_token_error_base_importable_from_the_package() -> None:
    import meshsec.tokens as tokens

    assert tokens.TokenError is TokenError
    assert "TokenError" in tokens.__all__
    for name in tokens.__all__:
        value = getattr(tokens, name)
        if isinstance(value, type) and issubclass(value, MeshsecError) and value is not TokenError:
            assert issubclass(value, TokenError), name
            assert value.code.startswith("token."), name


@pytest.mark.parametrize("scopes", [42, [1], [["a"]], [None]])
def test_required_scopes_of_the_wrong_type_are_config_error(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock, scopes: object
) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    with pytest.raises(ConfigError):
        verifier.verify(issuer.issue("alice", AUD, scopes=("a",)), scopes=scopes)  # type: ignore[arg-type]


def test_required_scopes_none_means_no_requirement(
    issuer: TokenIssuer, keys: KeySet, clock: FrozenClock
) -> None:
    verifier = TokenVerifier(issuer=ISS, audience=AUD, keys=keys, clock=clock)
    assert verifier.verify(issuer.issue("alice", AUD), scopes=None).subject == "alice"
