"""Interoperability with an independent JOSE implementation (joserfc) and RFC 8037."""

from __future__ import annotations

import pytest
from joserfc import jws as jose_jws
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet as JoseKeySet
from joserfc.jwk import import_key

from meshsec.tokens import KeySet, SigningKey, TokenIssuer, TokenVerifier

from ._helpers import key_for
from .conftest import AUDIENCE, ISSUER, Env

ALGS = ["EdDSA", "ES256", "ES384", "PS256", "RS256"]

# RFC 8037 Appendix A.1 (key), A.3 (thumbprint) and A.4 (JWS).
RFC8037_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
@pytest.mark.parametrize("alg", ALGS)
def test_meshsec_token_verifies_with_joserfc(env: Env, alg: str) -> None:
    keys = KeySet([key_for(alg)])
    token = TokenIssuer(issuer=ISSUER, keys=keys).issue("web", AUDIENCE, scopes=["a", "b"])
    jose_keys = JoseKeySet.import_key_set(keys.to_jwks())
    decoded = jose_jwt.decode(token, jose_keys, algorithms=[alg])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"] == keys.primary.kid
    assert decoded.claims["sub"] == "web"
    assert decoded.claims["scope"] == "a b"


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
@pytest.mark.parametrize("alg", ALGS)
def test_joserfc_token_verifies_with_meshsec(env: Env, alg: str) -> None:
    key = key_for(alg)
    private = import_key(key.to_jwk(private=True))
    now = int(env.clock())
    claims = {
        "iss": ISSUER,
        "sub": "web",
        "aud": AUDIENCE,
        "exp": now + 60,
        "iat": now,
        "jti": "j1",
    }
    header = {"alg": alg, "kid": key.kid, "typ": "at+jwt"}
    token = jose_jwt.encode(header, claims, private, algorithms=[alg])
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=KeySet.from_jwks(KeySet([key]).to_jwks()),
        clock=env.clock,
    )
    assert verifier.verify(token).token_id == "j1"


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_joserfc_detached_jws_matches_meshsec(env: Env) -> None:
    key = key_for("ES256")
    payload = b'{"bundle": 1}'
    jws = key.sign_detached(payload)
    public = import_key(key.to_jwk())
    header, _, signature = jws.split(".")
    from meshsec.tokens import _jose

    attached = f"{header}.{_jose.b64encode(payload).decode()}.{signature}"
    assert jose_jws.deserialize_compact(attached, public, algorithms=["ES256"]).payload == payload


def test_rfc8037_ed25519_example_verifies() -> None:
    key = SigningKey.from_jwk(RFC8037_JWK)
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    header, payload, signature = RFC8037_JWS.split(".")
    signing_input = f"{header}.{payload}".encode()
    # Ed25519 is deterministic: meshsec reproduces the published signature...
    from meshsec.tokens import _jose

    assert _jose.b64encode(key.sign(signing_input)).decode() == signature
    # ...and the public key alone verifies it.
    public = SigningKey.from_jwk({k: v for k, v in RFC8037_JWK.items() if k != "d"})
    assert public.verify(signing_input, _jose.b64decode(signature.encode()))
    assert not public.verify(signing_input + b"x", _jose.b64decode(signature.encode()))
