"""``meshsec demo``: loopback services showing every meshsec primitive at work.

The client calls orders, orders calls payments; auth issues the tokens. The
demo prints what crossed the wire, what each service saw, their correlated
log lines and the audit events, then verifies the hash-chained audit file.
It exits non-zero when any of the properties it shows does not hold.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import requests

from meshsec import audit, correlation
from meshsec.cli._demo_services import (
    INTRUDER,
    ORDERS,
    PAYMENTS,
    WEB,
    Mesh,
    Wire,
    build_mesh,
    call,
    running,
    try_call,
)
from meshsec.secret import Secret

ORDER = {
    "item": "book",
    "amount": 42,
    "card": {"number": "4111 1111 1111 1111"},
    "customer": {"email": "ada@example.com"},
}
HOSTILE_ID = "evil\x1b[31m<script>" + "x" * 200


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run loopback services and show meshsec's primitives at work"
    )
    parser.add_argument(
        "--out", type=Path, help="directory for the audit file (default: a new temporary one)"
    )
    parser.set_defaults(handler=run)


@attrs.frozen(kw_only=True)
class Calls:
    """The client's calls and what came back."""

    correlation_id: str
    good: requests.Response
    hostile: requests.Response
    forged: requests.Response
    large: requests.Response
    intruder: str


class _ListHandler(logging.Handler):
    """Keeps formatted log lines so the demo can print them in order."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def _capture_demo_logs() -> Iterator[_ListHandler]:
    handler = _ListHandler()
    handler.addFilter(correlation.CorrelationFilter())
    handler.setFormatter(correlation.JsonFormatter())
    logger = logging.getLogger("meshsec.demo")
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


@contextmanager
def _audit_to(path: Path, key: Secret[bytes]) -> Iterator[list[audit.SecurityEvent]]:
    sink = audit.JsonlFileSink(path, key=key)
    previous = audit.configure(sink)
    try:
        with audit.capture() as events:
            yield events
    finally:
        audit.configure(*previous)
        sink.close()


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="meshsec-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    audit_file = out / "audit.jsonl"
    key = Secret(secrets.token_bytes(32))
    wire = Wire()
    with _capture_demo_logs() as logs, _audit_to(audit_file, key) as events:
        mesh = build_mesh(wire)
        print(
            f"meshsec demo: trust domain {mesh.ca.trust_domain}, every hop mutual TLS on 127.0.0.1"
        )
        print(f"  client   {WEB}")
        for service in mesh.services:
            print(f"  {service.name:<8} {service.source.identity.spiffe_id}  {service.url}")
        with running(mesh):
            calls = _client(mesh)
    checks = [
        _report_mtls(calls, events),
        _report_tokens(calls, events),
        _report_policy(calls, events),
        _report_fields(wire, calls.good.json()),
        _report_correlation(calls, logs.lines),
        _report_events(events),
        _report_chain(audit_file, key),
    ]
    return 0 if all(checks) else 1


def _client(mesh: Mesh) -> Calls:
    session = mesh.session(mesh.web, ORDERS)
    scopes = ["orders:create", "payments:charge"]
    token = mesh.issuer.issue(WEB, ORDERS, scopes=scopes, bind_to=mesh.web.identity)
    orders = mesh.orders.url + "/orders"
    correlation_id = "demo-" + secrets.token_hex(6)
    with correlation.scope({"X-Correlation-ID": correlation_id}):
        good = call(session, orders, ORDER, token=token)
    # Each further call is its own request with its own correlation.
    with correlation.scope(correlation.CorrelationContext.new()):
        large = call(session, orders, {**ORDER, "amount": 5000}, token=token)
    with correlation.scope(correlation.CorrelationContext.new()):
        forged = call(session, orders, ORDER, token=_tampered(token))
    hostile = session.post(
        orders,
        json={"item": "pen", "amount": 3, "card": {"number": "5500 0000 0000 0004"}},
        headers={"X-Correlation-ID": HOSTILE_ID, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    # A workload of the same trust domain that payments does not admit.
    intruder = try_call(mesh.session(mesh.workload(INTRUDER), PAYMENTS), mesh.payments.url)
    return Calls(
        correlation_id=correlation_id,
        good=good,
        hostile=hostile,
        forged=forged,
        large=large,
        intruder=intruder,
    )


def _tampered(token: str) -> str:
    """The same token with one signature character changed: a forgery."""
    head, _, signature = token.rpartition(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{head}.{flipped}{signature[1:]}"


def _section(title: str) -> None:
    print(f"\n{title}")


def _report_mtls(calls: Calls, events: list[audit.SecurityEvent]) -> bool:
    _section("mutual TLS (X509-SVIDs from the demo CA; each server admits only its callers):")
    print(f"  web -> orders -> payments: HTTP {calls.good.status_code}")
    refusals = [
        e.reason
        for e in events
        if e.category == audit.Category.AUTHENTICATION and e.reason and e.reason.startswith("tls.")
    ]
    print(f"  {INTRUDER} -> payments: {calls.intruder} (audit reason {', '.join(refusals) or '-'})")
    return calls.good.status_code == 200 and "handshake" in calls.intruder and bool(refusals)


def _report_policy(calls: Calls, events: list[audit.SecurityEvent]) -> bool:
    _section("policy (payments' rules live outside its code; deny overrides allow):")
    decisions = [e for e in events if e.category == audit.Category.AUTHORIZATION]
    for event in decisions:
        rule, decision = event.attributes.get("rule_id"), event.attributes.get("decision_id")
        print(
            f"  {event.action} by {event.actor}: {event.outcome.value} "
            f"(rule {rule}, decision {decision})"
        )
    refusal = calls.large.json().get("payment", {})
    print(
        f"  order of 5000 -> HTTP {calls.large.status_code} {refusal.get('error')} "
        f"(decision {refusal.get('decision_id')})"
    )
    denied = [e for e in decisions if e.outcome == audit.Outcome.DENIED]
    return calls.large.status_code == 403 and bool(denied)


def _report_tokens(calls: Calls, events: list[audit.SecurityEvent]) -> bool:
    charged = calls.good.json().get("payment", {}).get("charged")
    _section("tokens (EdDSA at+jwt bound to the caller's certificate, RFC 8705):")
    print(f"  orders exchanged the client's token for payments (RFC 8693): charged {charged}")
    reasons = [e.reason for e in events if e.category == audit.Category.TOKEN and e.reason]
    print(
        f"  forged signature -> orders: HTTP {calls.forged.status_code} "
        f"{calls.forged.json()['error']} (audit reason {', '.join(reasons) or '-'}; "
        "the caller is not told why)"
    )
    return bool(charged) and calls.forged.status_code == 401 and "token.bad_signature" in reasons


def _report_fields(wire: Wire, reply: dict[str, Any]) -> bool:
    card = str(ORDER["card"]["number"]).replace(" ", "")  # type: ignore[index]
    sent = wire.orders_to_payments[0]
    _section("field protection (card number: encrypt, restricted; email: tokenize):")
    print(f"  orders -> payments on the wire: card.number    = {sent['card']['number'][:40]}...")
    print(f"  {'':<32}customer.email = {sent['customer']['email'][:40]}...")
    print(f"  payments (cleared for restricted) saw: {wire.payments_saw[0]}")
    receipt = reply["receipt"]
    print(f"  client receipt (clearance internal): card.number = {receipt['card']['number']}")
    on_wire = json.dumps(sent).replace(" ", "")
    return card not in on_wire and card not in json.dumps(receipt).replace(" ", "")


def _report_correlation(calls: Calls, log_lines: list[str]) -> bool:
    cid = calls.correlation_id
    _section(f"correlation: the client sent X-Correlation-ID {cid}; service logs (JSON lines):")
    records = [json.loads(line) for line in log_lines]
    for rec in records:
        service = rec["logger"].rsplit(".", 1)[-1]
        print(
            f"  [{service:<8}] correlation_id={rec['correlation_id']} "
            f"trace_id={rec['trace_id']} {rec['message']}"
        )
    ours = [r for r in records if r["correlation_id"] == cid]
    services = {r["logger"].rsplit(".", 1)[-1] for r in ours}
    traces = {r["trace_id"] for r in ours}
    same = {"orders", "payments"} <= services and len(traces) == 1
    print(
        f"  one correlation ID across both services: {'yes' if same else 'NO'} "
        f"({cid}, trace {next(iter(traces), '-')})"
    )
    replaced = calls.hostile.headers.get("X-Correlation-ID", "")
    print(f"  hostile X-Correlation-ID (ANSI escape, markup, 211 chars) replaced by {replaced}")
    return same and replaced.isalnum()


def _report_events(events: list[audit.SecurityEvent]) -> bool:
    _section("audit events (each carries the request's correlation ID):")
    for event in events:
        print(
            f"  {event.category.value}/{event.action} {event.outcome.value} "
            f"actor={event.actor} correlation_id={event.correlation_id}"
            + (f" reason={event.reason}" if event.reason else "")
        )
    return bool(events)


def _report_chain(path: Path, key: Secret[bytes]) -> bool:
    report = audit.verify_chain(path, key=key)
    verdict = "verified" if report.ok else f"BROKEN at line {report.first_bad_line}"
    print(f"\naudit chain {path}: {report.lines} lines, HMAC-SHA256, {verdict}")
    return report.ok
