"""The two loopback services behind ``meshsec demo``.

``orders`` receives the client's call and calls ``payments``; both run in
threads on 127.0.0.1 with stdlib ``http.server``. Each handler adopts the
caller's correlation headers (validated by :func:`meshsec.correlation.scope`),
logs through the correlation filter, and emits audit events. The card number
travels encrypted from orders to payments; payments, cleared for
``restricted`` data, reveals it; the client's receipt shows it masked.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import requests

from meshsec import audit, correlation
from meshsec.context import SecurityContext, run_as
from meshsec.errors import TokenError
from meshsec.fields import DlpLogFilter, FieldProtector, Keyring, LocalKeyProvider
from meshsec.tokens import JWKSClient, KeySet, TokenIssuer, TokenVerifier

Handler = Callable[["Request"], tuple[int, dict[str, Any]]]

# Both services load the same keyring, as they would from a shared KMS.
CARD_SCHEMA = {
    "card.number": {"action": "encrypt", "classification": "restricted", "reveal_mask": "last4"},
    "customer.email": {"action": "tokenize", "classification": "confidential"},
}


@attrs.frozen(kw_only=True)
class Request:
    """What a demo handler sees: method, path, headers and the JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@attrs.define
class Wire:
    """What the demo shows about the calls: the bodies as they crossed the wire."""

    orders_to_payments: list[dict[str, Any]] = attrs.field(factory=list)
    payments_saw: list[str] = attrs.field(factory=list)


class Service:
    """One named loopback HTTP service; ``handler`` maps a Request to (status, body)."""

    def __init__(self, name: str, handler: Handler) -> None:
        self.name = name
        self.log = logging.getLogger(f"meshsec.demo.{name}")
        self._handler = handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _request_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                headers = dict(self.headers.items())
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with correlation.scope(headers):
                    audit.record_correlation_rejections()
                    status, payload = service.dispatch(
                        Request(method=self.command, path=self.path, headers=headers, body=body)
                    )
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    correlation.inject(_HeaderWriter(self))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  stdlib name
                """Silence http.server's own stderr access log; the demo logs itself."""

        return _Handler

    def dispatch(self, request: Request) -> tuple[int, dict[str, Any]]:
        self.log.info("%s %s received", request.method, request.path)
        status, payload = self._handler(request)
        self.log.info("%s %s answered %d", request.method, request.path, status)
        return status, payload


class _HeaderWriter(dict[str, str]):
    """A mapping that forwards every header set on it to the HTTP response."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        super().__init__()
        self._handler = handler

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self._handler.send_header(key, value)


def http_session() -> requests.Session:
    """A requests session for loopback calls that ignores proxy variables."""
    session = requests.Session()
    session.trust_env = False
    return session


def call(
    session: requests.Session, url: str, body: dict[str, Any], *, token: str | None = None
) -> requests.Response:
    """POST ``body`` to ``url`` carrying the current correlation headers (and a bearer token)."""
    headers = correlation.inject({}, destination=url)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return session.post(url, json=body, headers=headers, timeout=10)


def bearer(request: Request) -> str:
    return request.headers.get("Authorization", "").removeprefix("Bearer ")


@contextmanager
def running(*services: Service) -> Iterator[None]:
    for service in services:
        service.start()
    try:
        yield
    finally:
        for service in services:
            service.stop()


def shared_protector() -> FieldProtector:
    """The keyring leaves its creator only wrapped; each service unwraps its copy."""
    kek = LocalKeyProvider.generate()
    wrapped = Keyring.generate("demo").to_wrapped_json(kek)
    return FieldProtector(CARD_SCHEMA, keyring=Keyring.from_wrapped(wrapped, kek))


WEB = "spiffe://demo.example/web"
ORDERS = "spiffe://demo.example/orders"
PAYMENTS = "spiffe://demo.example/payments"
AUTH = "spiffe://demo.example/auth"


@attrs.frozen(kw_only=True)
class Mesh:
    """The demo's services and the token issuer the client gets its token from."""

    auth: Service
    orders: Service
    payments: Service
    issuer: TokenIssuer

    @property
    def services(self) -> tuple[Service, ...]:
        return (self.auth, self.orders, self.payments)


def unauthorized(error: TokenError) -> tuple[int, dict[str, Any]]:
    # The precise reason went to the audit trail; the caller learns only the class.
    del error
    return 401, {"error": "invalid_token"}


def build_services(session: requests.Session, wire: Wire) -> Mesh:
    """auth issues tokens; orders protects and forwards a charge; payments reveals it."""
    protector = shared_protector()
    keys = KeySet.generate("EdDSA")
    issuer = TokenIssuer(issuer=AUTH, keys=keys)

    def jwks(_: Request) -> tuple[int, dict[str, Any]]:
        return 200, keys.to_jwks()

    auth = Service("auth", jwks)
    # payments knows only auth's JWKS URL; plain HTTP on loopback is an audited opt-in.
    remote_keys = JWKSClient(
        auth.url + "/.well-known/jwks.json", session=session, unsafe_allow_http=True
    )
    payments_verifier = TokenVerifier(issuer=AUTH, audience=PAYMENTS, keys=remote_keys)
    orders_verifier = TokenVerifier(issuer=AUTH, audience=ORDERS, keys=keys)

    def payments(request: Request) -> tuple[int, dict[str, Any]]:
        try:
            claims = payments_verifier.verify(bearer(request), scopes=["payments:charge"])
        except TokenError as error:
            return unauthorized(error)
        charge = request.body or {}
        context = {"order_id": charge.get("order_id")}
        caller = SecurityContext(
            principal=claims.subject,
            claims=claims.raw,
            scopes=claims.scopes,
            obligations={"actor": claims.actor},
        )
        with run_as(caller):
            clear = protector.reveal(charge, context=context, clearance="restricted")
        card = str(clear.get("card", {}).get("number", ""))
        wire.payments_saw.append(
            f"card ending {card[-4:]} for {clear.get('amount')}, "
            f"subject {claims.subject} via actor {claims.actor}"
        )
        # The card reaches the log only through the DLP filter.
        payments_service.log.info("charging card %s", card)
        audit.record(
            audit.Category.AUTHORIZATION,
            "payments:charge",
            audit.Outcome.SUCCESS,
            actor=claims.actor,
            target=request.path,
            attributes={"amount": clear.get("amount"), "subject": claims.subject},
        )
        return 200, {"charged": clear.get("amount"), "correlation_id": correlation.current_id()}

    payments_service = Service("payments", payments)
    payments_service.log.addFilter(DlpLogFilter())

    def orders(request: Request) -> tuple[int, dict[str, Any]]:
        token = bearer(request)
        try:
            claims = orders_verifier.verify(token, scopes=["orders:create"])
        except TokenError as error:
            return unauthorized(error)
        order = dict(request.body or {})
        order["order_id"] = correlation.current_id()
        context = {"order_id": order["order_id"]}
        audit.record(
            audit.Category.AUTHORIZATION,
            "orders:create",
            audit.Outcome.SUCCESS,
            actor=claims.subject,
            target=request.path,
        )
        protected = protector.protect(order, context=context)
        wire.orders_to_payments.append(protected)
        # RFC 8693: orders acts for the client towards payments, with narrower scopes.
        onward = issuer.exchange(token, audience=PAYMENTS, scopes=["payments:charge"], actor=ORDERS)
        reply = call(session, payments_service.url + "/charge", protected, token=onward)
        with run_as(SecurityContext(principal=claims.subject)):
            receipt = protector.reveal(protected, context=context, clearance="internal")
        return reply.status_code, {"receipt": receipt, "payment": reply.json()}

    return Mesh(
        auth=auth, orders=Service("orders", orders), payments=payments_service, issuer=issuer
    )
