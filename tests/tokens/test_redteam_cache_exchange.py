"""Red-team: the verified-token cache, token exchange, audit and argument typing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from meshsec import audit, correlation
from meshsec.errors import ConfigError, TokenError
from meshsec.tokens import (
    BadSignature,
    BindingMismatch,
    ForbiddenHeader,
    InsufficientScope,
    JWKSClient,
    KeySet,
    MalformedToken,
    ScopeEscalation,
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
from .jwks_server import JWKSServer

SERVICE_A = "spiffe://example.org/orders"
SERVICE_B = "spiffe://example.org/billing"


# -- the cache never outlives what made the token valid ------------------------------


def test_cached_token_fails_once_revoked(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    claims = env.verifier.verify(token)
    env.verifier.revoke(claims.token_id, claims.expires_at)
    with pytest.raises(TokenRevoked):
        env.verifier.verify(token)


def test_cached_token_fails_at_expiry_plus_leeway_exactly(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE, ttl=timedelta(seconds=60))
    env.verifier.verify(token)
    env.clock.advance(60 + 30 - 0.001)
    env.verifier.verify(token)
    env.clock.advance(0.001)
    with pytest.raises(TokenExpired):
        env.verifier.verify(token)


def test_cached_token_fails_after_its_key_is_retired(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    env.verifier.verify(token)
    old = env.keys.primary.kid
    env.keys.rotate()
    assert env.verifier.verify(token)  # overlap: still trusted after rotate
    env.keys.retire(old)
    with pytest.raises(UnknownKey):
        env.verifier.verify(token)


def test_cached_token_fails_when_the_jwks_drops_its_key(env: Env) -> None:
    server = JWKSServer()
    try:
        server.body = json.dumps(env.keys.to_jwks()).encode()
        server.headers["Cache-Control"] = "max-age=60"
        with JWKSClient(server.url, unsafe_allow_http=True, clock=env.clock) as client:
            client._session.trust_env = False  # loopback only, never a proxy
            verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=client, clock=env.clock)
            token = env.issuer.issue("web", AUDIENCE)
            verifier.verify(token)
            server.body = json.dumps(KeySet([key_for("ES256")]).to_jwks()).encode()
            env.clock.advance(61)
            with pytest.raises(UnknownKey):
                verifier.verify(token)
    finally:
        server.close()


def test_cache_hit_still_enforces_certificate_binding(env: Env) -> None:
    certificate, _ = make_certificate("client")
    other, _ = make_certificate("other")
    token = env.issuer.issue("web", AUDIENCE, bind_to=certificate)
    env.verifier.verify(token, peer_certificate=certificate)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token)
    with pytest.raises(BindingMismatch):
        env.verifier.verify(token, peer_certificate=other)


def test_cache_hit_still_enforces_one_time_use(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    env.verifier.verify(token)  # cached, not consumed
    env.verifier.verify(token, one_time=True)
    with pytest.raises(TokenReplayed):
        env.verifier.verify(token, one_time=True)


def test_failed_verification_is_never_cached(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    env.clock.advance(-120)  # iat lies 120 s in the future now
    with pytest.raises(TokenError):
        env.verifier.verify(token)
    env.clock.advance(120)
    assert env.verifier.verify(token).subject == "web"


def test_cached_claims_are_not_shared_mutable_state(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE, claims={"roles": ["reader"]})
    first = env.verifier.verify(token)
    exported = first.to_dict()
    exported["roles"].append("admin")
    with pytest.raises((TypeError, AttributeError)):
        first.raw["roles"].append("admin")  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        first.raw["sub"] = "root"  # type: ignore[index]
    assert env.verifier.verify(token).to_dict()["roles"] == ["reader"]


# -- exchange ------------------------------------------------------------------------


@pytest.fixture
def user_token(env: Env) -> str:
    return env.issuer.issue("alice", SERVICE_A, scopes=["orders:read", "billing:read"])


def test_exchange_of_an_expired_subject_token_refused(env: Env, user_token: str) -> None:
    env.clock.advance(300 + 30)
    with pytest.raises(TokenExpired):
        env.issuer.exchange(user_token, audience=SERVICE_B, scopes=[], actor=SERVICE_A)


def test_exchange_of_a_revoked_subject_token_refused(env: Env, user_token: str) -> None:
    reader = TokenVerifier(issuer=ISSUER, audience=SERVICE_A, keys=env.keys, clock=env.clock)
    claims = reader.verify(user_token)
    env.revocations.revoke(claims.token_id, claims.expires_at.timestamp() + 30)
    with pytest.raises(TokenRevoked):
        env.issuer.exchange(user_token, audience=SERVICE_B, scopes=[], actor=SERVICE_A)


@pytest.mark.parametrize(
    "scopes",
    [["admin"], ["orders:read", "admin"], "billing:read admin", ["orders:read\u2003admin"]],
)
def test_exchange_scope_escalation_refused(env: Env, user_token: str, scopes: Any) -> None:
    with pytest.raises((ScopeEscalation, ConfigError)):
        env.issuer.exchange(user_token, audience=SERVICE_B, scopes=scopes, actor=SERVICE_A)


def test_exchange_escalation_is_audited_as_denied_once(env: Env, user_token: str) -> None:
    with audit.capture() as events, pytest.raises(ScopeEscalation):
        env.issuer.exchange(user_token, audience=SERVICE_B, scopes=["x"], actor=SERVICE_A)
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("token.exchange", audit.Outcome.DENIED, "token.scope_escalation")
    ]
    assert user_token.split(".")[2][:16] not in repr(events)


def test_act_claim_cannot_be_spoofed_through_claims(env: Env) -> None:
    for reserved in ("act", "sub", "cnf", "scope", "client_id"):
        with pytest.raises(ConfigError):
            env.issuer.issue(
                "alice", SERVICE_A, claims={reserved: {"sub": "spiffe://example.org/admin"}}
            )


def test_exchange_by_an_actor_the_token_was_not_for_refused(env: Env, user_token: str) -> None:
    with pytest.raises(WrongAudience):
        env.issuer.exchange(user_token, audience=SERVICE_B, scopes=[], actor=SERVICE_B)


def test_exchange_chain_records_every_actor_and_narrows_lifetime(env: Env, user_token: str) -> None:
    first = env.issuer.exchange(
        user_token, audience=SERVICE_B, scopes=["billing:read"], actor=SERVICE_A
    )
    env.clock.advance(10)
    second = env.issuer.exchange(
        first, audience="spiffe://example.org/ledger", scopes=["billing:read"], actor=SERVICE_B
    )
    verifier = TokenVerifier(
        issuer=ISSUER, audience="spiffe://example.org/ledger", keys=env.keys, clock=env.clock
    )
    claims = verifier.verify(second)
    assert claims.subject == "alice"
    assert claims.actor == SERVICE_B
    assert claims.actor_chain == (SERVICE_B, SERVICE_A)
    original_exp = int(env.clock()) - 10 + 300
    assert claims.expires_at.timestamp() <= original_exp


def test_exchange_success_event_uses_the_injected_clock(env: Env, user_token: str) -> None:
    with audit.capture() as events:
        env.issuer.exchange(user_token, audience=SERVICE_B, scopes=[], actor=SERVICE_A)
    assert [e.timestamp.timestamp() for e in events] == [env.clock()]


# -- one audit event per failure, with the correlation ID and without the token -------


def _failing_tokens(env: Env) -> list[tuple[str, str]]:
    good = env.issuer.issue("web", AUDIENCE)
    header, payload, _ = good.split(".")
    key = env.keys.primary
    base = env.payload()
    return [
        (good[:-4] + ("AAAA" if good[-4:] != "AAAA" else "BBBA"), BadSignature.code),
        (forge({**env.header(), "jku": "http://127.0.0.1:9/"}, base, key), ForbiddenHeader.code),
        (forge(env.header(), {**base, "scope": "x"}, key), InsufficientScope.code),
        (forge(env.header(kid="nope"), base, key), UnknownKey.code),
        (f"{header}.{payload}", MalformedToken.code),
        (forge(env.header(), {**base, "exp": int(env.clock()) - 31}, key), TokenExpired.code),
    ]


def test_each_failure_is_audited_exactly_once_with_code_and_correlation(env: Env) -> None:
    for token, code in _failing_tokens(env):
        with correlation.scope(None), audit.capture() as events:
            expected = correlation.current_id()
            with pytest.raises(TokenError) as info:
                env.verifier.verify(token, scopes=["orders:read"])
        assert info.value.code == code
        assert len(events) == 1, code
        (event,) = events
        assert event.reason == code
        assert event.category is audit.Category.TOKEN
        assert event.correlation_id == expected
        text = repr(event) + json.dumps(event.to_dict(), default=str) + str(info.value)
        for part in token.split("."):
            if len(part) >= 8:
                assert part[:16] not in text


def test_cache_hit_failure_is_audited_exactly_once(env: Env) -> None:
    token = env.issuer.issue("web", AUDIENCE)
    env.verifier.verify(token)
    with audit.capture() as events, pytest.raises(InsufficientScope):
        env.verifier.verify(token, scopes=["admin"])
    assert [e.reason for e in events] == [InsufficientScope.code]


# -- configuration of the wrong type is a ConfigError, not a TypeError ----------------


def test_binding_to_something_that_is_not_a_certificate_refused(env: Env) -> None:
    for bogus in (5, "PEM TEXT", b"", None.__class__):
        with pytest.raises(ConfigError):
            env.issuer.issue("web", AUDIENCE, bind_to=bogus)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        certificate_thumbprint(5)  # type: ignore[arg-type]


def test_durations_must_be_timedeltas(env: Env) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue("web", AUDIENCE, ttl=60)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        TokenIssuer(issuer=ISSUER, keys=env.keys, default_ttl=60)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=env.keys, leeway=30)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        JWKSClient("https://127.0.0.1/jwks.json", timeout=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("client_id", [5, "", ["web"], b"web"])
def test_client_id_of_the_wrong_type_refused_at_issue(env: Env, client_id: object) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue("web", AUDIENCE, client_id=client_id)  # type: ignore[arg-type]
