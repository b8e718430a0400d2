"""Access tokens between services: an issuer, its JWKS over HTTP, a verifier elsewhere.

Three parties run on 127.0.0.1 only:

- "auth" issues tokens and serves its public keys at /.well-known/jwks.json;
- "orders" is another service: it knows only auth's JWKS URL, verifies each
  bearer token (signature, type, issuer, audience, lifetime, scope) and
  answers a plain 401/403 (the precise reason goes to its audit trail, never
  back to the caller);
- "web" is the caller.

Then auth rotates its key: orders picks the new key up through the unknown
kid, with at most one JWKS fetch per 30 seconds however many unknown kids
arrive (the example moves a shared clock instead of sleeping), and a token
bound to web's certificate is shown to be useless without that certificate.
Run: python examples/tokens_between_services.py
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Callable

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.errors import TokenError
from meshsec.tokens import (
    BindingMismatch,
    InsufficientScope,
    JWKSClient,
    KeySet,
    TokenIssuer,
    TokenVerifier,
)

AUTH = "https://auth.example.org"
WEB = "spiffe://example.org/web"
ORDERS = "spiffe://example.org/orders"


def serve(handle: Callable[[http.server.BaseHTTPRequestHandler], tuple[int, dict, bytes]]):
    """Start a loopback HTTP server whose GET answers come from ``handle``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = handle(self)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    # audit.capture() collects the events to print them; a service would
    # configure a sink instead, e.g. audit.configure(audit.LoggingSink()).
    with audit.capture() as events:
        run()
    print("audit trail (reasons only; never a token):")
    for event in events:
        print(
            f"  {event.category.value}/{event.action}: {event.outcome.value} {event.reason or ''}"
        )


def run() -> None:
    # --- auth: the issuer and its published keys ------------------------------
    clock = FrozenClock()  # real time, moved forward by hand below
    auth_keys = KeySet.generate("EdDSA")
    issuer = TokenIssuer(issuer=AUTH, keys=auth_keys, clock=clock)

    def jwks(_: http.server.BaseHTTPRequestHandler) -> tuple[int, dict, bytes]:
        body = json.dumps(auth_keys.to_jwks()).encode()
        return (
            200,
            {"Content-Type": "application/jwk-set+json", "Cache-Control": "max-age=300"},
            body,
        )

    auth_server, auth_url = serve(jwks)

    # --- orders: a separate service that trusts auth's JWKS --------------------
    session = requests.Session()
    session.trust_env = False  # loopback only; never through a proxy
    remote_keys = JWKSClient(
        f"{auth_url}/.well-known/jwks.json",
        session=session,
        unsafe_allow_http=True,  # plain HTTP on loopback for the example: audited
        clock=clock,
    )
    verifier = TokenVerifier(issuer=AUTH, audience=ORDERS, keys=remote_keys, clock=clock)

    def orders(request: http.server.BaseHTTPRequestHandler) -> tuple[int, dict, bytes]:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = verifier.verify(token, scopes=["orders:read"])
        except InsufficientScope:
            return 403, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}, b"forbidden"
        except TokenError:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"unauthorized"
        return 200, {}, f"orders for {claims.subject}".encode()

    orders_server, orders_url = serve(orders)

    # --- web: the caller ---------------------------------------------------------
    def call(token: str) -> str:
        response = session.get(f"{orders_url}/orders", headers={"Authorization": f"Bearer {token}"})
        return f"{response.status_code} {response.text}"

    good = issuer.issue(WEB, ORDERS, scopes=["orders:read"])
    print("valid token         ->", call(good))
    print("again (cache hit)   ->", call(good))
    print("wrong scope         ->", call(issuer.issue(WEB, ORDERS, scopes=["orders:list"])))
    print("other audience      ->", call(issuer.issue(WEB, "spiffe://example.org/billing")))
    print(
        "tampered signature  ->",
        call(tampered(good)),
    )

    auth_keys.rotate()  # new primary; the old key still verifies until retired
    rotated = issuer.issue(WEB, ORDERS, scopes=["orders:read"])
    print("new kid, at once    ->", call(rotated), "(refetch rate-limited)")
    clock.advance(31)
    print("new kid, 31 s later ->", call(rotated))
    print("old token still     ->", call(good))
    print(f"JWKS fetches by orders: {remote_keys.fetches}")

    # Certificate binding (RFC 8705): a bound token is useless without its certificate.
    certificate = make_certificate("web")
    bound = issuer.issue(WEB, ORDERS, scopes=["orders:read"], bind_to=certificate)
    print("bound, with cert    ->", verifier.verify(bound, peer_certificate=certificate).subject)
    try:
        verifier.verify(bound)
    except BindingMismatch as exc:
        print("bound, no cert      ->", exc.code)

    for server in (orders_server, auth_server):
        server.shutdown()
        server.server_close()
    session.close()


def tampered(token: str) -> str:
    """The token with one signature character changed."""
    head, _, signature = token.rpartition(".")
    return f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def make_certificate(name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


if __name__ == "__main__":
    main()
