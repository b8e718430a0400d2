"""A tamper-evident audit trail: record, verify, tamper, catch it.

Events go to a keyed, hash-chained JSONL file and, as JSON, to the log.
A hostile actor name (CRLF + ANSI escape) and a leaked token in the
attributes show the escaping and redaction every event gets. Then one line of
the file is edited and the verifier names it. Run:
``python examples/audit_trail.py``.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from meshsec import audit
from meshsec.audit import Category, JsonlFileSink, LoggingSink, Outcome
from meshsec.correlation import CorrelationContext, scope
from meshsec.secret import Secret

# In production the key comes from a secret store, never from source code.
AUDIT_KEY = Secret(b"example-audit-key-please-rotate!")


def serve_request(path: str) -> None:
    """What a service does while handling one request."""
    audit.record(
        Category.AUTHENTICATION,
        "mtls.handshake",
        Outcome.SUCCESS,
        actor="spiffe://example.org/ns/shop/sa/web",
    )
    audit.record(
        Category.TOKEN,
        "verify",
        Outcome.FAILURE,
        actor="mallory\r\nINFO forged: admin logged in \x1b[2J",
        reason="token.expired",
        attributes={"kid": "k-2026-03", "access_token": "opaque-abc", "hint": "eyJa.eyJb.c"},
    )
    audit.record(Category.AUTHORIZATION, "GET", Outcome.DENIED, actor="mallory", target=path)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s", stream=sys.stdout)
    with tempfile.TemporaryDirectory() as tmp:
        trail = Path(tmp) / "audit.jsonl"
        with JsonlFileSink(trail, key=AUDIT_KEY) as sink:
            previous = audit.configure(sink, LoggingSink())
            try:
                with scope(CorrelationContext(correlation_id="req-example-1")):
                    serve_request("/orders/42")
            finally:
                audit.configure(*previous)

        report = audit.verify_chain(trail, key=AUDIT_KEY)
        print(f"\nverify: ok={report.ok} lines={report.lines} keyed={report.keyed}")

        lines = trail.read_bytes().splitlines(keepends=True)
        lines[2] = lines[2].replace(b'"denied"', b'"success"')  # hide the denial
        trail.write_bytes(b"".join(lines))
        report = audit.verify_chain(trail, key=AUDIT_KEY)
        print(f"after editing line 3: line {report.first_bad_line}: {report.detail}")
        return 0 if (not report.ok and report.first_bad_line == 3) else 1


if __name__ == "__main__":
    raise SystemExit(main())
