"""The loopback services behind ``meshsec demo``.

One trust domain, ``demo.example``, with a local certificate authority. Every
service listens for HTTPS on 127.0.0.1 with a meshsec mTLS server context and
admits only the SPIFFE IDs allowed to call it; every call goes out through an
mTLS requests session that accepts only the expected server:

- ``auth`` serves the token issuer's JWKS (to payments only);
- ``orders`` admits the web client, verifies its certificate-bound access
  token, encrypts the card number, exchanges the token for one bound to its own
  certificate (RFC 8693, RFC 8705) and calls payments;
- ``payments`` admits orders only, verifies the exchanged token against the
  caller's certificate, asks its policy engine, and reveals the card only under
  the clearance the decision's obligations grant.

Each handler adopts the caller's correlation headers, logs through the
correlation filter and emits audit events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import requests
from cryptography import x509

from meshsec import audit, correlation
from meshsec.context import SecurityContext, run_as
from meshsec.errors import MeshsecError, TokenError
from meshsec.fields import DlpLogFilter, FieldProtector, Keyring, LocalKeyProvider
from meshsec.identity import CertificateAuthority, SpiffeId, StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import Matcher, allow_id, peer_id, server_context
from meshsec.policy import AccessDenied, Engine, PolicySet, check
from meshsec.tokens import JWKSClient, KeySet, TokenIssuer, TokenVerifier

TRUST_DOMAIN = "demo.example"
WEB = SpiffeId.parse("spiffe://demo.example/web")
ORDERS = SpiffeId.parse("spiffe://demo.example/orders")
PAYMENTS = SpiffeId.parse("spiffe://demo.example/payments")
AUTH = SpiffeId.parse("spiffe://demo.example/auth")
INTRUDER = SpiffeId.parse("spiffe://demo.example/scraper")

# Both services load the same keyring, as they would from a shared KMS.
CARD_SCHEMA = {
    "card.number": {"action": "encrypt", "classification": "restricted", "reveal_mask": "last4"},
    "customer.email": {"action": "tokenize", "classification": "confidential"},
}

# payments' policy lives outside its code: orders may charge small amounts;
# large charges are denied whoever asks (deny overrides allow).
PAYMENTS_POLICY = {
    "version": 1,
    "rules": [
        {
            "id": "orders-may-charge",
            "effect": "allow",
            "principals": [str(ORDERS)],
            "actions": ["payments:charge"],
            "resources": ["payment:*"],
            "when": [{"attr": "context.amount", "op": "lt", "value": 1000}],
            "obligations": {"clearance": "restricted"},
        },
        {
            "id": "large-charges-need-review",
            "effect": "deny",
            "principals": ["*"],
            "actions": ["payments:charge"],
            "resources": ["payment:*"],
            "when": [{"attr": "context.amount", "op": "ge", "value": 1000}],
        },
    ],
}

Handler = Callable[["Request"], tuple[int, dict[str, Any]]]


@attrs.frozen(kw_only=True)
class Request:
    """What a demo handler sees: the mTLS peer, the headers and the JSON body."""

    method: str
    path: str
    peer: SpiffeId
    peer_certificate: x509.Certificate
    headers: dict[str, str]
    body: Any


@attrs.define
class Wire:
    """What the demo shows about the calls: the bodies as they crossed the wire."""

    orders_to_payments: list[dict[str, Any]] = attrs.field(factory=list)
    payments_saw: list[str] = attrs.field(factory=list)


class Service:
    """One named HTTPS service on 127.0.0.1 that admits only ``allow``'s peers."""

    def __init__(
        self, name: str, source: StaticIdentitySource, allow: Matcher, handler: Handler
    ) -> None:
        self.name = name
        self.source = source
        self.log = logging.getLogger(f"meshsec.demo.{name}")
        self._handler = handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_class())
        self._server.daemon_threads = True
        context = server_context(source, allow=allow)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"https://{host!s}:{port}"

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
                der = self.connection.getpeercert(binary_form=True)
                request = Request(
                    method=self.command,
                    path=self.path,
                    peer=peer_id(self.connection),  # checked by meshsec at the handshake
                    peer_certificate=x509.load_der_x509_certificate(der),
                    headers=headers,
                    body=json.loads(raw) if raw else None,
                )
                with correlation.scope(headers):
                    audit.record_correlation_rejections()
                    status, payload = service.dispatch(request)
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
        self.log.info("%s %s from %s", request.method, request.path, request.peer)
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


def unauthorized(error: TokenError) -> tuple[int, dict[str, Any]]:
    # The precise reason went to the audit trail; the caller learns only the class.
    del error
    return 401, {"error": "invalid_token"}


def _session(
    sessions: list[requests.Session], source: StaticIdentitySource, expect: SpiffeId
) -> requests.Session:
    """An mTLS session presenting ``source`` that talks only to ``expect``."""
    session = mtls_session(source, expect=allow_id(expect))
    session.trust_env = False  # loopback only; never through a proxy
    sessions.append(session)
    return session


@attrs.frozen(kw_only=True)
class Mesh:
    """The demo's trust domain: its CA, services, token issuer and client sessions."""

    ca: CertificateAuthority
    auth: Service
    orders: Service
    payments: Service
    issuer: TokenIssuer
    web: StaticIdentitySource
    sessions: list[requests.Session]

    @property
    def services(self) -> tuple[Service, ...]:
        return (self.auth, self.orders, self.payments)

    def session(self, source: StaticIdentitySource, expect: SpiffeId) -> requests.Session:
        return _session(self.sessions, source, expect)

    def workload(self, spiffe_id: SpiffeId) -> StaticIdentitySource:
        """A workload of the trust domain: a fresh key and X509-SVID from the CA."""
        return StaticIdentitySource(self.ca.issue(spiffe_id), self.ca.bundle)


@contextmanager
def running(mesh: Mesh) -> Iterator[Mesh]:
    for service in mesh.services:
        service.start()
    try:
        yield mesh
    finally:
        for session in mesh.sessions:
            session.close()
        for service in mesh.services:
            service.stop()


def shared_protector() -> FieldProtector:
    """The keyring leaves its creator only wrapped; each service unwraps its copy."""
    kek = LocalKeyProvider.generate()
    wrapped = Keyring.generate("demo").to_wrapped_json(kek)
    return FieldProtector(CARD_SCHEMA, keyring=Keyring.from_wrapped(wrapped, kek))


def build_mesh(wire: Wire) -> Mesh:
    """Create the CA and the workloads, and wire the three services together."""
    ca = CertificateAuthority.create(TRUST_DOMAIN)
    keys = KeySet.generate("EdDSA")
    issuer = TokenIssuer(issuer=AUTH, keys=keys)

    def workload(spiffe_id: SpiffeId) -> StaticIdentitySource:
        return StaticIdentitySource(ca.issue(spiffe_id), ca.bundle)

    sessions: list[requests.Session] = []
    auth = Service("auth", workload(AUTH), allow_id(PAYMENTS), lambda _: (200, keys.to_jwks()))
    protector = shared_protector()
    payments_id = workload(PAYMENTS)
    payments = _payments(
        source=payments_id,
        to_auth=_session(sessions, payments_id, AUTH),
        auth=auth,
        protector=protector,
        wire=wire,
    )
    orders_id = workload(ORDERS)
    orders = _orders(
        source=orders_id,
        to_payments=_session(sessions, orders_id, PAYMENTS),
        payments=payments,
        issuer=issuer,
        protector=protector,
        wire=wire,
    )
    return Mesh(
        ca=ca,
        auth=auth,
        orders=orders,
        payments=payments,
        issuer=issuer,
        web=workload(WEB),
        sessions=sessions,
    )


def _payments(
    *,
    source: StaticIdentitySource,
    to_auth: requests.Session,
    auth: Service,
    protector: FieldProtector,
    wire: Wire,
) -> Service:
    # payments knows only auth's JWKS URL, fetched over mTLS from auth alone.
    remote_keys = JWKSClient(auth.url + "/.well-known/jwks.json", session=to_auth)
    verifier = TokenVerifier(issuer=AUTH, audience=PAYMENTS, keys=remote_keys)
    engine = Engine(PolicySet.from_dict(PAYMENTS_POLICY))
    log = logging.getLogger("meshsec.demo.payments")
    log.addFilter(DlpLogFilter())  # the card reaches the log only through the DLP filter

    def charge(request: Request) -> tuple[int, dict[str, Any]]:
        try:
            claims = verifier.verify(
                bearer(request),
                scopes=["payments:charge"],
                peer_certificate=request.peer_certificate,  # RFC 8705 binding
            )
        except TokenError as error:
            return unauthorized(error)
        body = request.body or {}
        caller = SecurityContext(
            principal=str(request.peer),
            peer_id=str(request.peer),
            claims=claims.raw,
            scopes=claims.scopes,
        )
        with run_as(caller):
            try:
                decision = check(
                    "payments:charge",
                    resource=f"payment:{body.get('order_id')}",
                    context={"amount": body.get("amount")},
                    engine=engine,
                )
            except AccessDenied as denied:
                return 403, {"error": "access_denied", "decision_id": denied.decision_id}
            clearance = str(decision.obligations.get("clearance", "public"))
            clear = protector.reveal(
                body, context={"order_id": body.get("order_id")}, clearance=clearance
            )
        card = str(clear.get("card", {}).get("number", ""))
        wire.payments_saw.append(
            f"card ending {card[-4:]} for {clear.get('amount')}, user {claims.subject} "
            f"via {claims.actor} (rule {decision.rule_id}, clearance {clearance})"
        )
        log.info("charging card %s", card)
        return 200, {"charged": clear.get("amount")}

    return Service("payments", source, allow_id(ORDERS), charge)


def _orders(
    *,
    source: StaticIdentitySource,
    to_payments: requests.Session,
    payments: Service,
    issuer: TokenIssuer,
    protector: FieldProtector,
    wire: Wire,
) -> Service:
    verifier = TokenVerifier(issuer=AUTH, audience=ORDERS, keys=issuer.keys)

    def create(request: Request) -> tuple[int, dict[str, Any]]:
        token = bearer(request)
        try:
            claims = verifier.verify(
                token, scopes=["orders:create"], peer_certificate=request.peer_certificate
            )
        except TokenError as error:
            return unauthorized(error)
        order = dict(request.body or {})
        order["order_id"] = correlation.current_id()
        context = {"order_id": order["order_id"]}
        protected = protector.protect(order, context=context)
        wire.orders_to_payments.append(protected)
        # RFC 8693: orders acts for the user towards payments, with narrower
        # scopes, in a token bound to orders' own certificate (RFC 8705).
        onward = issuer.exchange(
            token,
            audience=PAYMENTS,
            scopes=["payments:charge"],
            actor=ORDERS,
            peer_certificate=request.peer_certificate,
            bind_to=source.identity,
        )
        reply = call(to_payments, payments.url + "/charge", protected, token=onward)
        with run_as(SecurityContext(principal=claims.subject, peer_id=str(request.peer))):
            receipt = protector.reveal(protected, context=context, clearance="internal")
        return reply.status_code, {"receipt": receipt, "payment": reply.json()}

    return Service("orders", source, allow_id(WEB), create)


def try_call(session: requests.Session, url: str) -> str:
    """Call ``url`` and describe how it failed (for the intruder's attempt)."""
    with contextlib.suppress(requests.RequestException, MeshsecError):
        response = session.post(url, json={}, timeout=10)
        return f"HTTP {response.status_code}"
    return "refused during the TLS handshake"
