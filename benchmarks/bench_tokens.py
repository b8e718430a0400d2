"""Token issue and verify, next to PyJWT doing the same work on the same token.

The PyJWT twin of ``verify`` is ``jwt.decode`` with the checks meshsec always
makes (algorithm allow-list, issuer, audience, exp/nbf/iat with leeway,
required sub and jti). meshsec additionally checks typ, rejects duplicate
JSON keys and non-canonical base64url, and pins the algorithm to the key.
The verify figures run with the verified-token cache off; the cache-hit
figure turns it on. (The Redis revocation round trip is in bench_stores.)
"""

from __future__ import annotations

import secrets
import time

import jwt

from benchmarks._harness import compare, row
from meshsec.tokens import KeySet, SigningKey, TokenIssuer, TokenVerifier

ISSUER = "https://issuer.example"
AUDIENCE = "spiffe://example.org/orders"
SUBJECT = "spiffe://example.org/web"


def _pyjwt_decode(token: str, key: object, alg: str) -> object:
    return jwt.decode(
        token,
        key,  # type: ignore[arg-type]
        algorithms=[alg],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=30,
        options={"require": ["exp", "iat", "nbf", "sub", "jti", "iss", "aud"]},
    )


def _setup(alg: str) -> tuple[TokenIssuer, TokenVerifier, TokenVerifier, str, object, SigningKey]:
    key = SigningKey.generate(alg)
    keys = KeySet([key])
    issuer = TokenIssuer(issuer=ISSUER, keys=keys)
    uncached = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, cache_size=0)
    cached = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys)
    token = issuer.issue(SUBJECT, AUDIENCE, scopes=["orders:read", "orders:list"])
    public = key._public  # the very key object PyJWT gets
    assert _pyjwt_decode(token, public, alg)
    return issuer, uncached, cached, token, public, key


def _verify_figure(alg: str) -> None:
    _, uncached, _, token, public, _ = _setup(alg)
    figure = compare(lambda: uncached.verify(token), lambda: _pyjwt_decode(token, public, alg))
    print(row(f"TokenVerifier.verify {alg} (no cache)", figure,
              target="<= 1.15x", raw_name="jwt.decode"))  # fmt: skip


def main() -> None:
    for alg in ("EdDSA", "ES256"):
        _verify_figure(alg)

    _, _, cached, token, public, _ = _setup("ES256")
    cached.verify(token)
    figure = compare(lambda: cached.verify(token), lambda: _pyjwt_decode(token, public, "ES256"))
    print(row("TokenVerifier.verify ES256 (cache hit)", figure,
              target="<= 0.05x (>= 20x faster)", raw_name="jwt.decode ES256"))  # fmt: skip

    issuer, _, _, _, _, key = _setup("EdDSA")
    private = key._private  # the same key object for the PyJWT twin
    headers = {"kid": key.kid, "typ": "at+jwt"}

    def raw_issue() -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": SUBJECT,
            "aud": AUDIENCE,
            "client_id": SUBJECT,
            "scope": "orders:read orders:list",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(payload, private, algorithm="EdDSA", headers=headers)

    figure = compare(
        lambda: issuer.issue(SUBJECT, AUDIENCE, scopes=["orders:read", "orders:list"]), raw_issue
    )
    print(row("TokenIssuer.issue EdDSA", figure, target="<= 1.15x", raw_name="jwt.encode"))


if __name__ == "__main__":
    main()
