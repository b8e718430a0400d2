"""Two services that call each other over mutual TLS with SPIFFE identities.

``orders`` and ``payments`` each run an HTTPS server built on
``meshsec.mtls.server_context`` and call the other with
``meshsec.integrations.requests.mtls_session``:

1. orders -> payments ``/charge``: payments accepts only orders, and sees the
   caller's SPIFFE ID with ``peer_id``.
2. payments -> orders ``/status``: the call back, in the other direction.
3. A workload of the trust domain that payments does not allow is refused
   during the handshake (its request never reaches the handler), and the
   refusal is audited with a reason code and a correlation ID.
4. orders' identity rotates; its next connection presents the new certificate
   while nothing else changes.

Everything listens on 127.0.0.1 on free ports. Run: ``python examples/mtls_pair.py``.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

from meshsec import audit
from meshsec.identity import CertificateAuthority, SpiffeId, StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import allow_id, peer_id, server_context

ORDERS = SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders")
PAYMENTS = SpiffeId.parse("spiffe://example.org/ns/prod/sa/payments")
INTRUDER = SpiffeId.parse("spiffe://example.org/ns/dev/sa/scraper")

Handler = Callable[[SpiffeId, str], str]


@contextmanager
def serve(
    name: str, source: StaticIdentitySource, allow: SpiffeId, answer: Handler
) -> Iterator[str]:
    """An HTTPS server that admits only ``allow`` and answers with ``answer(caller, path)``."""

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            caller = peer_id(self.connection)  # checked by meshsec during the handshake
            body = answer(caller, self.path).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    context = server_context(source, allow=allow_id(allow))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, name=name)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def main() -> None:
    ca = CertificateAuthority.create("example.org")
    orders_source = StaticIdentitySource(ca.issue(ORDERS), ca.bundle)
    payments_source = StaticIdentitySource(ca.issue(PAYMENTS), ca.bundle)
    intruder_source = StaticIdentitySource(ca.issue(INTRUDER), ca.bundle)

    orders_calls_payments = mtls_session(orders_source, expect=allow_id(PAYMENTS))
    payments_calls_orders = mtls_session(payments_source, expect=allow_id(ORDERS))

    def payments_answer(caller: SpiffeId, path: str) -> str:
        return f"payments charged for {caller} ({path})"

    def orders_answer(caller: SpiffeId, path: str) -> str:
        return f"orders status for {caller} ({path})"

    with (
        serve("payments", payments_source, ORDERS, payments_answer) as payments_url,
        serve("orders", orders_source, PAYMENTS, orders_answer) as orders_url,
        orders_calls_payments,
        payments_calls_orders,
        audit.capture() as events,
    ):
        print("1.", orders_calls_payments.get(f"{payments_url}/charge", timeout=5).text)
        print("2.", payments_calls_orders.get(f"{orders_url}/status", timeout=5).text)

        with mtls_session(intruder_source, expect=allow_id(PAYMENTS)) as intruder:
            try:
                intruder.get(f"{payments_url}/charge", timeout=5)
            except requests.exceptions.ConnectionError:
                print("3. payments refused", INTRUDER, "during the handshake")
        refusals = [e for e in events if e.category is audit.Category.AUTHENTICATION]
        for event in refusals:
            print(f"   audit: {event.action} {event.outcome.value} reason={event.reason} "
                  f"correlation_id={event.correlation_id}")  # fmt: skip

        before = orders_source.identity.serial_number
        orders_source.update(ca.issue(ORDERS))
        reply = orders_calls_payments.get(
            f"{payments_url}/charge", headers={"Connection": "close"}, timeout=5
        )
        print(
            f"4. after rotation ({before:x} -> {orders_source.identity.serial_number:x}):",
            reply.text,
        )


if __name__ == "__main__":
    main()
