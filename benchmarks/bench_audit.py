"""meshsec.audit: emit with no sink, and emit to the hash-chained file.

- ``emit`` with no sink configured beside an empty Python function call taking
  the same argument (the floor for any call); target under 0.3 µs absolute.
- ``emit`` to :class:`JsonlFileSink` beside the raw twin: ``json.dumps`` of
  the same event dict + ``hmac`` + ``file.write``; target at least 50,000
  events/s. The meshsec side also links the chain, keeps a sequence number,
  rewrites the checkpoint every 1,000 lines and holds a lock.
- ``emit`` to :class:`LoggingSink` (a handler writing to memory) beside
  ``logger.info(json.dumps(event dict))``.
"""

from __future__ import annotations

import functools
import hmac
import io
import json
import logging
import tempfile
from pathlib import Path

from benchmarks._harness import compare, fmt_time, row
from meshsec import audit
from meshsec.audit import Category, JsonlFileSink, LoggingSink, Outcome, SecurityEvent

KEY = b"benchmark-audit-key-0123456789ab"
EVENT = SecurityEvent(
    category=Category.AUTHORIZATION,
    action="decide",
    outcome=Outcome.DENIED,
    actor="spiffe://example.org/ns/shop/sa/web",
    target="/orders/42",
    reason="policy.denied",
    correlation_id="req-8c1f2b7e",
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    attributes={"method": "POST", "policy": "orders-write", "kid": "k-2026-03"},
)


def _noop(event: object) -> None:
    return None


def _noop_record(
    category: object,
    action: object,
    outcome: object,
    *,
    actor: object = None,
    target: object = None,
    reason: object = None,
    attributes: object = None,
) -> None:
    return None


def bench_no_sink() -> None:
    previous = audit.configure()
    try:
        fig = compare(functools.partial(audit.emit, EVENT), functools.partial(_noop, EVENT))
        print(row("emit, no sink configured", fig, target="< 0.3 µs", raw_name="empty def call"))
        fig = compare(
            lambda: audit.record("authorization", "decide", "denied", actor="a"),
            lambda: _noop_record("authorization", "decide", "denied", actor="a"),
        )
        print(
            row("record(...), no sink configured", fig, target="< 0.3 µs", raw_name="same-sig def")
        )
    finally:
        audit.configure(*previous)


def bench_file_sink(tmp: Path) -> None:
    data = EVENT.to_dict()
    raw_file = (tmp / "raw.jsonl").open("ab", buffering=0)
    prev = bytes(32)

    def raw() -> None:
        nonlocal prev
        line = json.dumps(data, separators=(",", ":")).encode()
        prev = hmac.digest(KEY, prev + line, "sha256")
        raw_file.write(b'%s,"mac":"%s"}\n' % (line[:-1], prev.hex().encode()))

    sink = JsonlFileSink(tmp / "audit.jsonl", key=KEY)
    previous = audit.configure(sink)
    try:
        fig = compare(functools.partial(audit.emit, EVENT), raw)
    finally:
        audit.configure(*previous)
        sink.close()
        raw_file.close()
    print(row("emit to JsonlFileSink (keyed)", fig, target="≥ 50k/s", raw_name="dumps+hmac+write"))
    print(
        f"  {'':<48} meshsec {1 / fig.mine:,.0f} events/s vs raw {1 / fig.raw:,.0f} events/s "
        f"({fmt_time(fig.mine)} per event)"
    )
    report = audit.verify_chain(tmp / "audit.jsonl", key=KEY)
    print(f"  {'':<48} chain written during the run verifies: {report.ok} ({report.lines} lines)")


def bench_logging_sink() -> None:
    logger = logging.getLogger("meshsec.audit")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    data = EVENT.to_dict()
    previous = audit.configure(LoggingSink())
    try:
        fig = compare(
            functools.partial(audit.emit, EVENT),
            lambda: logger.info("%s", json.dumps(data, separators=(",", ":"))),
        )
    finally:
        audit.configure(*previous)
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    print(row("emit to LoggingSink", fig, target="-", raw_name="logger.info(dumps)"))


def main() -> None:
    bench_no_sink()
    with tempfile.TemporaryDirectory() as tmp:
        bench_file_sink(Path(tmp))
    bench_logging_sink()


if __name__ == "__main__":
    main()
