"""Certificate binding, scopes, revocation, one-time tokens, the cache and audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from meshsec import audit, correlation
from meshsec.errors import ConfigError, StoreError, TokenError
from meshsec.stores import MemoryStore, StoreUnavailable
from meshsec.tokens import (
    BadSignature,
    BindingMismatch,
    InsufficientScope,
    KeySet,
    RevocationList,
    SigningKey,
    TokenExpired,
    TokenIssuer,
    TokenReplayed,
    TokenRevoked,
    TokenVerifier,
    UnknownKey,
    WrongAudience,
    certificate_thumbprint,
)

from ._helpers import forge, key_for, make_certificate
from .conftest import AUDIENCE, ISSUER, Env


def _flip(token: str) -> str:
    """The token with a different, still canonical, first signature character."""
    head, _, signature = token.rpartition(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{head}.{first}{signature[1:]}" if head else f"{first}{signature[1:]}"


# -- RFC 8705 certificate binding ------------------------------------------------


def test_bound_token_carries_certificate_thumbprint(env: Env) -> None:
    certificate, _ = make_certificate()
    token = env.issuer.issue("web", AUDIENCE, bind_to=certificate)
    claims = env.verifier.verify(token, peer_certificate=certificate)
    assert claims.raw["cnf"] == {"x5t#S256": certificate_thumbprint(certificate)}
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert env.verifier.verify(token, peer_certificate=der).subject == "web"


def test_bound_token_without_certificate_rejected(env: Env) -> None:
    certificate, _ = make_certificate()
    token = env.issuer.issue("web", AUDIENCE, bind_to=certificate)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token)


def test_bound_token_with_wrong_certificate_rejected(env: Env) -> None:
    certificate, _ = make_certificate("client")
    other, _ = make_certificate("client")
    token = env.issuer.issue("web", AUDIENCE, bind_to=certificate)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token, peer_certificate=other)
    # The cache must not turn a bound token into a bearer token either.
    env.verifier.verify(token, peer_certificate=certificate)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token, peer_certificate=other)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token)


@pytest.mark.parametrize(
    "cnf", [{"jkt": "abc"}, {"x5t#S256": 1}, "x", [], {"x5t#S256": "a", "jkt": "b"}]
)
def test_unsupported_confirmation_method_rejected(env: Env, cnf: object) -> None:
    # A DPoP-bound (jkt) or garbled cnf must never verify as a bearer token.
    certificate, _ = make_certificate()
    token = forge(env.header(), env.payload(cnf=cnf), env.keys.primary)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token, peer_certificate=certificate)


def test_unbound_token_accepted_with_a_peer_certificate(env: Env) -> None:
    certificate, _ = make_certificate()
    token = env.issuer.issue("web", AUDIENCE)
    assert env.verifier.verify(token, peer_certificate=certificate).subject == "web"


# -- scopes ----------------------------------------------------------------------


def test_required_scopes_must_all_be_present(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE, scopes=["orders:read", "orders:list"])
    assert env.verifier.verify(token, scopes=["orders:read"]).scopes == {
        "orders:read",
        "orders:list",
    }
    assert env.verifier.verify(token, scopes="orders:read orders:list").subject == "web"
    with pytest.raises(InsufficientScope):
        env.verifier.verify(token, scopes=["orders:read", "orders:write"])
    with pytest.raises(InsufficientScope):
        env.verifier.verify(token, scopes="orders")


# -- revocation and one-time tokens ------------------------------------------------


def test_revoked_token_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    claims = env.verifier.verify(token)  # now cached
    env.verifier.revoke(claims.token_id, claims.expires_at + timedelta(seconds=30))
    with pytest.raises(TokenRevoked):
        env.verifier.verify(token)


def test_revocation_seen_by_another_verifier_sharing_the_store(env: Env) -> None:
    store = MemoryStore(clock=env.clock)
    first = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=env.keys,
        revocations=RevocationList(store, clock=env.clock),
        clock=env.clock,
    )
    second = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=env.keys,
        revocations=RevocationList(store, clock=env.clock),
        clock=env.clock,
    )
    token = env.issuer.issue("web", AUDIENCE)
    claims = second.verify(token)
    first.revoke(claims.token_id, claims.expires_at)
    with pytest.raises(TokenRevoked):
        second.verify(token)


def test_revoke_without_revocation_list_is_config_error(env: Env) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=env.keys, clock=env.clock)
    with pytest.raises(ConfigError):
        verifier.revoke("jti", env.clock() + 60)


def test_one_time_token_replay_rejected(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    assert env.verifier.verify(token, one_time=True).subject == "web"
    with pytest.raises(TokenReplayed):
        env.verifier.verify(token, one_time=True)


def test_one_time_without_revocations_is_config_error(env: Env) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=env.keys, clock=env.clock)
    with pytest.raises(ConfigError):
        verifier.verify(env.issuer.issue("web", AUDIENCE), one_time=True)


class _DownStore:
    """A store whose backend is unreachable."""

    def __getattr__(self, name: str):
        def fail(*args: object, **kwargs: object) -> None:
            raise StoreUnavailable("store down")

        return fail


def test_store_outage_fails_closed(env: Env) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=env.keys,
        revocations=RevocationList(_DownStore(), clock=env.clock),
        clock=env.clock,  # type: ignore[arg-type]
    )
    token = env.issuer.issue("web", AUDIENCE)
    with audit.capture() as events, pytest.raises(StoreUnavailable):
        verifier.verify(token)
    assert [e.reason for e in events if e.action == "token.verify"] == ["store.unavailable"]
    with pytest.raises(StoreError):
        verifier.verify(token)


# -- the verified-token cache ------------------------------------------------------


class _CountingKeys:
    def __init__(self, keys: KeySet) -> None:
        self.keys, self.lookups = keys, 0

    @property
    def version(self) -> int:
        return self.keys.version

    def get(self, kid: str) -> SigningKey | None:
        self.lookups += 1
        return self.keys.get(kid)


def test_cache_hit_skips_signature_work(env: Env) -> None:
    counting = _CountingKeys(env.keys)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=counting, clock=env.clock)
    token = env.issuer.issue("web", AUDIENCE)
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    assert counting.lookups == 1


def test_cache_hit_still_checks_expiry(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE, ttl=timedelta(seconds=60))
    env.verifier.verify(token)
    env.clock.advance(60 + 30)
    with pytest.raises(TokenExpired):
        env.verifier.verify(token)


def test_cache_never_outlives_the_token(env: Env) -> None:
    counting = _CountingKeys(env.keys)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=counting, clock=env.clock)
    token = env.issuer.issue("web", AUDIENCE, ttl=timedelta(seconds=60))
    verifier.verify(token)
    env.clock.advance(89)
    verifier.verify(token)
    assert counting.lookups == 1
    env.clock.advance(1)
    with pytest.raises(TokenExpired):
        verifier.verify(token)
    assert verifier._cache is not None
    assert len(verifier._cache) == 0


def test_cache_hit_still_checks_scopes(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE, scopes=["a"])
    env.verifier.verify(token, scopes=["a"])
    with pytest.raises(InsufficientScope):
        env.verifier.verify(token, scopes=["b"])


def test_cache_is_bounded(env: Env) -> None:
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=env.keys, cache_size=3, clock=env.clock
    )
    for _ in range(10):
        verifier.verify(env.issuer.issue("web", AUDIENCE))
    assert verifier._cache is not None
    assert len(verifier._cache) == 3


def test_cache_dropped_when_key_retired(env: Env) -> None:
    keys = KeySet([SigningKey.generate()])
    issuer = TokenIssuer(issuer=ISSUER, keys=keys, clock=env.clock)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, clock=env.clock)
    old_token = issuer.issue("web", AUDIENCE)
    old_kid = keys.primary.kid
    verifier.verify(old_token)
    keys.rotate()
    assert verifier.verify(old_token).subject == "web"  # overlap: still trusted
    new_token = issuer.issue("web", AUDIENCE)
    assert verifier.verify(new_token).subject == "web"
    keys.retire(old_kid)
    with pytest.raises(UnknownKey):
        verifier.verify(old_token)


def test_cache_does_not_accept_a_different_token(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    env.verifier.verify(token)
    head, _, signature = token.rpartition(".")
    with pytest.raises(BadSignature):
        env.verifier.verify(f"{head}.{_flip(signature)}")


def test_cache_disabled_with_size_zero(env: Env) -> None:
    counting = _CountingKeys(env.keys)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=counting, cache_size=0, clock=env.clock
    )
    token = env.issuer.issue("web", AUDIENCE)
    verifier.verify(token)
    verifier.verify(token)
    assert counting.lookups == 2


# -- audit -----------------------------------------------------------------------


def test_every_failure_emits_one_audit_event_without_the_token(env: Env) -> None:
    good = env.issuer.issue("web", AUDIENCE)
    other_audience = env.issuer.issue("web", "spiffe://example.org/else")
    cases = [
        ("garbage", "token.malformed"),
        (other_audience, WrongAudience.code),
        (_flip(good), "token.bad_signature"),
        ("x" * 9000, "token.too_large"),
    ]
    for token, code in cases:
        with correlation.scope(None), audit.capture() as events:
            expected_id = correlation.current_id()
            with pytest.raises(TokenError):
                env.verifier.verify(token)
        assert len(events) == 1, code
        event = events[0]
        assert event.category is audit.Category.TOKEN
        assert event.outcome is audit.Outcome.FAILURE
        assert event.reason == code
        assert event.correlation_id == expected_id
        text = repr(event) + repr(event.to_dict())
        assert token[:40] not in text
        assert token.split(".")[-1][:20] not in text


def test_success_emits_no_failure_event(env: Env) -> None:
    with audit.capture() as events:
        env.verifier.verify(env.issuer.issue("web", AUDIENCE))
    assert events == []


def test_error_messages_never_contain_the_token(env: Env) -> None:
    token = env.issuer.issue("sensitive-subject", "spiffe://example.org/else")
    with pytest.raises(WrongAudience) as info:
        env.verifier.verify(token)
    assert token[:30] not in str(info.value)
    assert "sensitive-subject" not in repr(info.value)


def test_repr_never_shows_keys_or_tokens(env: Env) -> None:
    text = repr(env.issuer) + repr(env.verifier) + repr(env.keys)
    private = key_for("EdDSA").to_jwk(private=True)["d"]
    assert private not in text


def test_cached_claims_cannot_be_mutated(env: Env) -> None:
    certificate, _ = make_certificate()
    token = env.issuer.issue("web", AUDIENCE, bind_to=certificate, claims={"roles": ["a"]})
    claims = env.verifier.verify(token, peer_certificate=certificate)
    with pytest.raises(TypeError):
        claims.raw["cnf"]["x5t#S256"] = "forged"  # type: ignore[index]
    with pytest.raises(TypeError):
        claims.raw["sub"] = "admin"  # type: ignore[index]
    assert claims.raw["roles"] == ("a",)
    assert claims.to_dict()["roles"] == ["a"]
