"""Fixtures for the token tests: a frozen clock, one issuer, one verifier."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from meshsec.clock import FrozenClock
from meshsec.tokens import KeySet, RevocationList, TokenIssuer, TokenVerifier

from ._helpers import key_for

ISSUER = "https://issuer.example"
AUDIENCE = "spiffe://example.org/orders"
START = 1_800_000_000


@attrs.define
class Env:
    clock: FrozenClock
    keys: KeySet
    issuer: TokenIssuer
    verifier: TokenVerifier
    revocations: RevocationList

    def payload(self, **overrides: Any) -> dict[str, Any]:
        """A valid access-token payload, with overrides (None removes a claim)."""
        now = int(self.clock())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "spiffe://example.org/web",
            "aud": AUDIENCE,
            "exp": now + 300,
            "iat": now,
            "nbf": now,
            "jti": "jti-1",
            "client_id": "web",
            "scope": "orders:read",
        }
        payload.update(overrides)
        return {k: v for k, v in payload.items() if v is not None}

    def header(self, **overrides: Any) -> dict[str, Any]:
        key = self.keys.primary
        header: dict[str, Any] = {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}
        header.update(overrides)
        return {k: v for k, v in header.items() if v is not None}


@pytest.fixture
def env() -> Env:
    clock = FrozenClock(START)
    keys = KeySet([key_for("EdDSA")])
    revocations = RevocationList(clock=clock)
    issuer = TokenIssuer(issuer=ISSUER, keys=keys, clock=clock, revocations=revocations)
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=keys,
        leeway=timedelta(seconds=30),
        revocations=revocations,
        clock=clock,
    )
    return Env(clock=clock, keys=keys, issuer=issuer, verifier=verifier, revocations=revocations)
