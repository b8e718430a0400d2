"""The adversarial suite: one test per attack on token verification.

Each test builds the hostile token by hand (tests/tokens/_helpers.forge) and
asserts the specific TokenError subclass, so a regression names the attack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from meshsec.tokens import (
    AlgorithmNotAllowed,
    BadSignature,
    ForbiddenHeader,
    KeySet,
    SigningKey,
    TokenVerifier,
    UnknownCritical,
    UnknownKey,
    WrongTokenType,
)

from ._helpers import b64, forge, key_for, make_certificate, segment
from .conftest import AUDIENCE, ISSUER, Env

# -- algorithm ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", " none", "none "])
@pytest.mark.parametrize("signature", ["", "e30"])
def test_alg_none_rejected(env: Env, alg: str, signature: str) -> None:
    token = f"{segment(env.header(alg=alg))}.{segment(env.payload())}.{signature}"
    with pytest.raises(AlgorithmNotAllowed):
        env.verifier.verify(token)


@pytest.mark.parametrize("alg", [None, "", 0, ["EdDSA"], {"alg": "EdDSA"}])
def test_alg_missing_or_not_a_string_rejected(env: Env, alg: object) -> None:
    header = (
        env.header(alg=alg) if alg is not None else {"kid": env.keys.primary.kid, "typ": "at+jwt"}
    )
    token = forge(header, env.payload(), env.keys.primary)
    with pytest.raises(AlgorithmNotAllowed):
        env.verifier.verify(token)


@pytest.mark.parametrize("trusted_alg", ["RS256", "ES256", "EdDSA"])
def test_hmac_with_public_key_as_secret_rejected(env: Env, trusted_alg: str) -> None:
    # CVE-2022-29217 style: the attacker HMACs with the verifier's public key
    # (PEM, DER and JWK spellings) and names HS256 in the header.
    trusted = key_for(trusted_alg)
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=KeySet([trusted.public()]), clock=env.clock
    )
    der = serialization.load_pem_public_key(trusted.public_pem()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secrets = [trusted.public_pem(), der, json.dumps(trusted.to_jwk()).encode()]
    for secret in secrets:
        header = {"alg": "HS256", "kid": trusted.kid, "typ": "at+jwt"}
        signing_input = f"{segment(header)}.{segment(env.payload())}".encode()
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        with pytest.raises(AlgorithmNotAllowed):
            verifier.verify(f"{signing_input.decode()}.{b64(mac)}")


def test_cve_2022_29217_algorithm_confusion(env: Env) -> None:
    # The token header may name any algorithm; the key decides.
    key = env.keys.primary
    for alg in ("HS256", "ES256", "RS256", "PS256", "EdDSA "):
        with pytest.raises(AlgorithmNotAllowed):
            env.verifier.verify(forge(env.header(alg=alg), env.payload(), key))


def test_header_alg_differs_from_key_rejected(env: Env) -> None:
    es256 = key_for("ES256")
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=KeySet([es256]), clock=env.clock
    )
    header = {"alg": "ES384", "kid": es256.kid, "typ": "at+jwt"}
    with pytest.raises(AlgorithmNotAllowed):
        verifier.verify(forge(header, env.payload(), es256))


@pytest.mark.parametrize("alg", ["ES256", "ES384"])
def test_ecdsa_zero_signature_rejected(env: Env, alg: str) -> None:
    # CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    key = key_for(alg)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=KeySet([key]), clock=env.clock)
    header = {"alg": alg, "kid": key.kid, "typ": "at+jwt"}
    size = 64 if alg == "ES256" else 96
    for signature in (b"\x00" * size, b"", b"\x00", b"\x00" * (size * 2)):
        token = f"{segment(header)}.{segment(env.payload())}.{b64(signature)}"
        with pytest.raises(BadSignature):
            verifier.verify(token)


def test_ecdsa_der_signature_rejected(env: Env) -> None:
    # JWS ECDSA signatures are raw r||s (RFC 7518 §3.4); a DER signature is refused.
    key = key_for("ES256")
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=KeySet([key]), clock=env.clock)
    header = {"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}
    signing_input = f"{segment(header)}.{segment(env.payload())}".encode()
    private = serialization.load_pem_private_key(key.to_pem(passphrase="p"), password=b"p")
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    der = private.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(BadSignature):
        verifier.verify(f"{signing_input.decode()}.{b64(der)}")


# -- header key injection ----------------------------------------------------


class _CountingServer:
    """A loopback HTTP server that counts requests (a token must never make one)."""

    def __init__(self) -> None:
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = json.dumps({"keys": [SigningKey.generate().to_jwk()]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def counting_server() -> Iterator[_CountingServer]:
    server = _CountingServer()
    yield server
    server.close()


def test_embedded_jwk_header_not_followed(env: Env) -> None:
    attacker = SigningKey.generate()
    header = {"alg": "EdDSA", "kid": attacker.kid, "typ": "at+jwt", "jwk": attacker.to_jwk()}
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(forge(header, env.payload(), attacker))
    # Even naming a trusted kid, the header jwk is refused outright.
    header["kid"] = env.keys.primary.kid
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(forge(header, env.payload(), attacker))


def test_jku_header_not_followed(env: Env, counting_server: _CountingServer) -> None:
    attacker = SigningKey.generate()
    header = {"alg": "EdDSA", "kid": attacker.kid, "typ": "at+jwt", "jku": counting_server.url}
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(forge(header, env.payload(), attacker))
    assert counting_server.requests == 0


def test_x5u_header_not_followed(env: Env, counting_server: _CountingServer) -> None:
    header = env.header(x5u=counting_server.url)
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(forge(header, env.payload(), env.keys.primary))
    assert counting_server.requests == 0


def test_x5c_header_not_followed(env: Env) -> None:
    certificate, private = make_certificate("attacker")
    attacker = SigningKey.from_pem(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        ),
        passphrase="pw",
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    header = {
        "alg": "ES256",
        "kid": attacker.kid,
        "typ": "at+jwt",
        "x5c": [base64.b64encode(der).decode()],
    }
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(forge(header, env.payload(), attacker))


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../dev/null",
        "/dev/null",
        "' OR '1'='1",
        "file:///etc/passwd",
        "x" * 10_000,
        "",
        0,
        ["kid"],
        None,
    ],
)
def test_kid_path_and_injection_tricks_rejected(env: Env, kid: object) -> None:
    # The kid is only ever a dictionary key; nothing is read or fetched from it.
    header = env.header(kid=kid) if kid is not None else {"alg": "EdDSA", "typ": "at+jwt"}
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=env.keys, max_token_bytes=65536, clock=env.clock
    )
    with pytest.raises(UnknownKey):
        verifier.verify(forge(header, env.payload(), env.keys.primary))


def test_unknown_kid_rejected(env: Env) -> None:
    other = key_for("ES256")
    header = {"alg": "ES256", "kid": other.kid, "typ": "at+jwt"}
    with pytest.raises(UnknownKey):
        env.verifier.verify(forge(header, env.payload(), other))


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "exp", [1]])
def test_unknown_crit_rejected(env: Env, crit: object) -> None:
    token = forge(env.header(crit=crit, exp=1), env.payload(), env.keys.primary)
    with pytest.raises(UnknownCritical):
        env.verifier.verify(token)


def test_b64_header_rejected(env: Env) -> None:
    token = forge(env.header(b64=False), env.payload(), env.keys.primary)
    with pytest.raises(ForbiddenHeader):
        env.verifier.verify(token)


# -- typ -----------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "id+jwt", "at+jwt ", "application/jwt", "", 1, None])
def test_wrong_typ_rejected(env: Env, typ: object) -> None:
    header = (
        env.header(typ=typ) if typ is not None else {"alg": "EdDSA", "kid": env.keys.primary.kid}
    )
    with pytest.raises(WrongTokenType):
        env.verifier.verify(forge(header, env.payload(), env.keys.primary))


@pytest.mark.parametrize(
    "typ", ["at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT"]
)
def test_typ_compared_case_insensitively_with_optional_application_prefix(
    env: Env, typ: str
) -> None:
    claims = env.verifier.verify(forge(env.header(typ=typ), env.payload(), env.keys.primary))
    assert claims.subject == "spiffe://example.org/web"


def test_id_token_not_accepted_as_access_token(env: Env) -> None:
    # An OIDC ID token from the same issuer, same key, same audience: typ JWT.
    token = forge(env.header(typ="JWT"), env.payload(nonce="n-0S6_WzA2Mj"), env.keys.primary)
    with pytest.raises(WrongTokenType):
        env.verifier.verify(token)
