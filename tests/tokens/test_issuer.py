"""TokenIssuer: the shape of issued tokens, reserved claims, lifetimes, exchange."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from meshsec import audit
from meshsec.errors import ConfigError
from meshsec.tokens import (
    RESERVED_CLAIMS,
    KeySet,
    ScopeEscalation,
    TokenIssuer,
    TokenVerifier,
    UnknownKey,
    WrongAudience,
)

from ._helpers import key_for, make_certificate
from .conftest import AUDIENCE, ISSUER, Env

WEB = "spiffe://example.org/web"
ORDERS = AUDIENCE
BILLING = "spiffe://example.org/billing"


def _parts(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(header), decode(payload)


def test_issued_token_shape(env: Env) -> None:
    token = env.issuer.issue(WEB, ORDERS, scopes=["orders:read", "orders:list"])
    header, payload = _parts(token)
    assert header == {"alg": "EdDSA", "kid": env.keys.primary.kid, "typ": "at+jwt"}
    now = int(env.clock())
    assert payload == {
        "iss": ISSUER,
        "sub": WEB,
        "aud": ORDERS,
        "client_id": WEB,
        "scope": "orders:read orders:list",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": payload["jti"],
    }
    assert len(base64.urlsafe_b64decode(payload["jti"] + "==")) == 16


def test_jti_is_unique_per_token(env: Env) -> None:
    jtis = {_parts(env.issuer.issue(WEB, ORDERS))[1]["jti"] for _ in range(200)}
    assert len(jtis) == 200


@pytest.mark.parametrize("claim", sorted(RESERVED_CLAIMS))
def test_reserved_claims_cannot_be_overridden(env: Env, claim: str) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, ORDERS, claims={claim: "x"})


def test_extra_claims_are_carried(env: Env) -> None:
    token = env.issuer.issue(WEB, ORDERS, claims={"tenant": "acme"})
    assert env.verifier.verify(token).raw["tenant"] == "acme"


def test_non_json_claims_refused(env: Env) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, ORDERS, claims={"when": object()})
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, ORDERS, claims={"nan": float("nan")})


def test_ttl_over_max_refused(env: Env) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, ORDERS, ttl=timedelta(hours=2))
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, ORDERS, ttl=timedelta(0))
    with pytest.raises(ConfigError):
        TokenIssuer(issuer=ISSUER, keys=env.keys, default_ttl=timedelta(hours=2))


@pytest.mark.parametrize("scope", ["two words", 'quo"te', "back\\slash", "", "tab\t", "é"])
def test_invalid_scope_names_refused(env: Env, scope: str) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, ORDERS, scopes=[scope])


@pytest.mark.parametrize("audience", ["", [], [""], [1]])
def test_invalid_audience_refused(env: Env, audience: object) -> None:
    with pytest.raises(ConfigError):
        env.issuer.issue(WEB, audience)  # type: ignore[arg-type]


def test_issuer_needs_a_signing_key() -> None:
    with pytest.raises(ConfigError):
        TokenIssuer(issuer=ISSUER, keys=KeySet([key_for("EdDSA").public()]))


def test_issue_signs_with_the_new_primary_after_rotate(env: Env) -> None:
    keys = KeySet([key_for("ES256")])
    issuer = TokenIssuer(issuer=ISSUER, keys=keys, clock=env.clock)
    new = keys.rotate("EdDSA")
    header, _ = _parts(issuer.issue(WEB, ORDERS))
    assert (header["kid"], header["alg"]) == (new.kid, "EdDSA")


# -- RFC 8693 exchange -----------------------------------------------------------


def test_exchange_builds_act_chain(env: Env) -> None:
    original = env.issuer.issue(WEB, ORDERS, scopes=["orders:read", "billing:read"])
    exchanged = env.issuer.exchange(
        original, audience=BILLING, scopes=["billing:read"], actor=ORDERS
    )
    billing = TokenVerifier(issuer=ISSUER, audience=BILLING, keys=env.keys, clock=env.clock)
    claims = billing.verify(exchanged, scopes=["billing:read"])
    assert (claims.subject, claims.actor, claims.scopes) == (WEB, ORDERS, {"billing:read"})
    # A second hop nests the earlier actor (RFC 8693 §4.1).
    ledger = "spiffe://example.org/ledger"
    again = env.issuer.exchange(exchanged, audience=ledger, scopes=[], actor=BILLING)
    hop2 = TokenVerifier(issuer=ISSUER, audience=ledger, keys=env.keys, clock=env.clock).verify(
        again
    )
    assert hop2.raw["act"] == {"sub": BILLING, "act": {"sub": ORDERS}}
    assert hop2.actor_chain == (BILLING, ORDERS)


def test_scope_escalation_through_exchange_rejected(env: Env) -> None:
    original = env.issuer.issue(WEB, ORDERS, scopes=["orders:read"])
    with audit.capture() as events, pytest.raises(ScopeEscalation):
        env.issuer.exchange(
            original, audience=BILLING, scopes=["orders:read", "admin"], actor=ORDERS
        )
    assert [e.reason for e in events] == ["token.scope_escalation"]


def test_exchange_requires_a_token_addressed_to_the_actor(env: Env) -> None:
    original = env.issuer.issue(WEB, BILLING, scopes=["a"])
    with pytest.raises(WrongAudience):
        env.issuer.exchange(original, audience="svc", scopes=["a"], actor=ORDERS)


def test_exchange_never_outlives_the_subject_token(env: Env) -> None:
    original = env.issuer.issue(WEB, ORDERS, ttl=timedelta(seconds=100))
    env.clock.advance(90)
    exchanged = env.issuer.exchange(original, audience=BILLING, scopes=[], actor=ORDERS)
    assert _parts(exchanged)[1]["exp"] == _parts(original)[1]["exp"]


def test_exchange_of_a_bound_token_needs_the_certificate(env: Env) -> None:
    from meshsec.tokens import BindingMismatch

    certificate, _ = make_certificate()
    original = env.issuer.issue(WEB, ORDERS, bind_to=certificate)
    with pytest.raises(BindingMismatch):
        env.issuer.exchange(original, audience=BILLING, scopes=[], actor=ORDERS)
    assert env.issuer.exchange(
        original, audience=BILLING, scopes=[], actor=ORDERS, peer_certificate=certificate
    )


def test_exchange_of_a_revoked_token_rejected(env: Env) -> None:
    from meshsec.tokens import TokenRevoked

    original = env.issuer.issue(WEB, ORDERS)
    env.revocations.revoke(_parts(original)[1]["jti"], env.clock() + 600)
    with pytest.raises(TokenRevoked):
        env.issuer.exchange(original, audience=BILLING, scopes=[], actor=ORDERS)


def test_hs256_round_trip_with_a_shared_secret(env: Env) -> None:
    from meshsec.tokens import SigningKey

    keys = KeySet([SigningKey.symmetric(b"\x01" * 32)])
    token = TokenIssuer(issuer=ISSUER, keys=keys, clock=env.clock).issue(WEB, ORDERS)
    verifier = TokenVerifier(issuer=ISSUER, audience=ORDERS, keys=keys, clock=env.clock)
    assert verifier.verify(token).subject == WEB
    other = KeySet([SigningKey.symmetric(b"\x02" * 32)])
    with pytest.raises(UnknownKey):
        TokenVerifier(issuer=ISSUER, audience=ORDERS, keys=other, clock=env.clock).verify(token)


def test_verifier_refuses_a_plain_mapping_as_keys(env: Env) -> None:
    with pytest.raises(ConfigError):
        TokenVerifier(issuer=ISSUER, audience=ORDERS, keys={"kid": key_for("EdDSA")})  # type: ignore[arg-type]
