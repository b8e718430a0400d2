"""Test code that uses meshsec with meshsec.testing, without pytest.

The same helpers back the ``meshsec_*`` pytest fixtures. This script plays a
small test suite by hand:

1. two workloads of a throwaway trust domain call each other over mutual TLS
   through ``TestMesh.serve`` and ``client_session``; the handler sees the
   caller's SPIFFE ID and runs as that caller;
2. a workload the server does not allow is refused at the handshake, and
   ``capture_audit`` shows the one audit event that says so;
3. a certificate-bound token is issued and verified; a frozen clock expires it;
4. ``acting_as`` drives a ``meshsec.policy.enforce`` decision both ways.

Everything listens on 127.0.0.1. Run: ``python examples/testing_with_meshsec.py``.
"""

from __future__ import annotations

from datetime import timedelta

import requests

from meshsec.context import current_security_context
from meshsec.policy import AccessDenied, Engine, PolicySet, enforce, use_authorizer
from meshsec.testing import ServedRequest, TestMesh, acting_as, capture_audit, frozen_clock
from meshsec.tokens import TokenExpired

POLICY = PolicySet.from_dict(
    {
        "version": 1,
        "rules": [
            {
                "id": "orders-may-refund",
                "effect": "allow",
                "principals": ["spiffe://test.example/orders"],
                "actions": ["payments:refund"],
                "resources": ["payment:*"],
            }
        ],
    }
)


@enforce("payments:refund", resource=lambda payment_id: f"payment:{payment_id}")
def refund(payment_id: str) -> str:
    return f"refunded {payment_id} for {current_security_context().principal}"


def payments(request: ServedRequest) -> tuple[int, dict[str, str], str]:
    caller = current_security_context().peer_id
    return 200, {"Content-Type": "text/plain"}, f"{request.method} {request.path} from {caller}"


def main() -> None:
    clock = frozen_clock()
    with TestMesh(clock=clock) as mesh, capture_audit() as log:
        # 1. mTLS between two workloads.
        with mesh.serve(payments, workload="payments", allow="orders") as url:
            session = mesh.client_session("orders", expect="payments")
            print("1.", session.post(f"{url}/charge", timeout=5).text)

            # 2. A workload that payments does not allow.
            try:
                mesh.client_session("scraper", expect="payments").get(url, timeout=5)
            except requests.exceptions.ConnectionError:
                refusal = log.assert_emitted(reason="tls.peer_not_authorized")[0]
                print(f"2. scraper refused at the handshake; audit: {refusal.action} "
                      f"{refusal.outcome.value} reason={refusal.reason}")  # fmt: skip

        # 3. A certificate-bound token, then expiry on the frozen clock.
        orders = mesh.workload("orders")
        token = mesh.token(orders, "payments", scopes=["charge"], bind_to=orders)
        verifier = mesh.verifier("payments")
        certificate = orders.identity.certificate
        claims = verifier.verify(token, scopes=["charge"], peer_certificate=certificate)
        print("3. token for", claims.subject, "with scopes", sorted(claims.scopes))
        clock.advance(timedelta(minutes=10))
        try:
            verifier.verify(token, peer_certificate=certificate)
        except TokenExpired as exc:
            print("   ten minutes later:", exc.code)

    # 4. Policy enforcement for a chosen caller.
    with use_authorizer(Engine(POLICY)), capture_audit() as log:
        with acting_as(peer_id="spiffe://test.example/orders"):
            print("4.", refund("p-17"))
        with acting_as(peer_id="spiffe://test.example/scraper"):
            try:
                refund("p-17")
            except AccessDenied as exc:
                print("   scraper:", exc.code)
        log.assert_emitted(category="authorization", outcome="denied")


if __name__ == "__main__":
    main()
