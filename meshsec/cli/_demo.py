"""``meshsec demo``: two loopback services, one correlation ID, a verified audit chain."""

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

from meshsec import audit, correlation
from meshsec.cli._demo_services import build_services, call, http_session, running
from meshsec.secret import Secret


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run two loopback services and show correlation and audit at work"
    )
    parser.add_argument(
        "--out", type=Path, help="directory for the audit file (default: a new temporary one)"
    )
    parser.set_defaults(handler=run)


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
    session = http_session()
    orders, payments = build_services(session)
    print("meshsec demo: client -> orders -> payments, all on 127.0.0.1")
    print(f"  orders   {orders.url}\n  payments {payments.url}\n")
    with (
        _capture_demo_logs() as logs,
        _audit_to(audit_file, key) as events,
        running(orders, payments),
    ):
        correlation_id = "demo-" + secrets.token_hex(6)
        with correlation.scope({"X-Correlation-ID": correlation_id}):
            reply = call(session, orders.url + "/orders", {"item": "book", "amount": 42})
        hostile = session.post(
            orders.url + "/orders",
            json={"item": "pen", "amount": 3},
            headers={"X-Correlation-ID": "evil\x1b[31m<script>" + "x" * 200},
            timeout=10,
        )
    session.close()
    ok = _report(reply.json(), correlation_id, logs.lines, events, hostile.headers)
    return 0 if _report_chain(audit_file, key) and ok else 1


def _report(
    reply: dict[str, Any],
    correlation_id: str,
    log_lines: list[str],
    events: list[audit.SecurityEvent],
    hostile_headers: Any,
) -> bool:
    print(f"client sent X-Correlation-ID {correlation_id}; orders answered {reply}\n")
    print("service log lines (JSON, via CorrelationFilter + JsonFormatter):")
    records = [json.loads(line) for line in log_lines]
    for rec in records:
        service = rec["logger"].rsplit(".", 1)[-1]
        print(
            f"  [{service:<8}] correlation_id={rec['correlation_id']} "
            f"trace_id={rec['trace_id']} {rec['message']}"
        )
    print("\naudit events:")
    for event in events:
        print(
            f"  {event.category.value}/{event.action} {event.outcome.value} "
            f"actor={event.actor} correlation_id={event.correlation_id}"
        )
    first = [r for r in records if r["correlation_id"] == correlation_id]
    services = {r["logger"] for r in first}
    traces = {r["trace_id"] for r in first}
    same = len(services) == 2 and len(traces) == 1
    print(
        f"\none correlation ID across both services: {'yes' if same else 'NO'} "
        f"({correlation_id}, trace {next(iter(traces), '-')})"
    )
    replaced = hostile_headers.get("X-Correlation-ID", "")
    print(f"hostile X-Correlation-ID (ANSI escape, markup, 211 chars) replaced by {replaced}")
    return same and replaced.isalnum()


def _report_chain(path: Path, key: Secret[bytes]) -> bool:
    report = audit.verify_chain(path, key=key)
    verdict = "verified" if report.ok else f"BROKEN at line {report.first_bad_line}"
    print(f"audit chain {path}: {report.lines} lines, HMAC-SHA256, {verdict}")
    return report.ok
