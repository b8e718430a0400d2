"""A token revoked through one service's verifier is refused by a verifier in another process.

Both verifiers share a RedisStore on a real redis-server (127.0.0.1, random
port); the second one runs in a child process and receives only the JWKS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from meshsec.stores import RedisStore
from meshsec.tokens import KeySet, RevocationList, TokenIssuer, TokenVerifier
from tests.redis_server import RedisServer, running_redis

from ._helpers import key_for
from .conftest import AUDIENCE, ISSUER

_CHILD = """
import sys
from meshsec.errors import TokenError
from meshsec.stores import RedisStore
from meshsec.tokens import KeySet, RevocationList, TokenVerifier
url, jwks, issuer, audience, one_time = sys.argv[1:6]
token = sys.stdin.read().strip()
with RedisStore(url=url, prefix="verifier:") as store:
    verifier = TokenVerifier(issuer=issuer, audience=audience, keys=KeySet.from_jwks(jwks),
                             revocations=RevocationList(store))
    try:
        print("accepted", verifier.verify(token, one_time=one_time == "1").subject)
    except TokenError as exc:
        print("refused", exc.code)
"""


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def _other_service(server: RedisServer, token: str, *, one_time: bool = False) -> str:
    jwks = json.dumps(KeySet([key_for("EdDSA")]).to_jwks())
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            server.url,
            jwks,
            ISSUER,
            AUDIENCE,
            "1" if one_time else "0",
        ],
        input=token,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_revocation_reaches_a_verifier_in_another_process(redis_server: RedisServer) -> None:
    keys = KeySet([key_for("EdDSA")])
    token = TokenIssuer(issuer=ISSUER, keys=keys).issue("web", AUDIENCE)
    assert _other_service(redis_server, token) == "accepted web"
    with RedisStore(url=redis_server.url, prefix="verifier:") as store:
        here = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, keys=keys, revocations=RevocationList(store)
        )
        claims = here.verify(token)
        here.revoke(claims.token_id, claims.expires_at.timestamp() + 30)
    assert _other_service(redis_server, token) == "refused token.revoked"


def test_one_time_token_replayed_in_another_process_refused(redis_server: RedisServer) -> None:
    keys = KeySet([key_for("EdDSA")])
    token = TokenIssuer(issuer=ISSUER, keys=keys).issue("web", AUDIENCE)
    with RedisStore(url=redis_server.url, prefix="verifier:") as store:
        here = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, keys=keys, revocations=RevocationList(store)
        )
        assert here.verify(token, one_time=True).subject == "web"
    assert _other_service(redis_server, token, one_time=True) == "refused token.replayed"
