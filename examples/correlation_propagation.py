"""Correlation across two loopback services, with a hostile caller and a boundary.

Service "billing" runs on 127.0.0.1 (random port) and logs, as JSON, the
correlation it extracted. The "gateway" code below receives a request with a
hostile correlation ID and secret-looking baggage, then calls billing
(inside the propagation boundary) and shows what it would send to a partner
(outside). Run: ``python examples/correlation_propagation.py``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from meshsec.correlation import (
    CorrelationConfig,
    CorrelationFilter,
    JsonFormatter,
    PropagationBoundary,
    inject,
    rejection_counts,
    scope,
)

CONFIG = CorrelationConfig(boundary=PropagationBoundary(hosts=("127.0.0.1", "*.internal.example")))
log = logging.getLogger("example.correlation")


class Billing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        with scope(dict(self.headers.items()), config=CONFIG) as ctx:
            log.info("billing handled %s (baggage %s)", self.path, dict(ctx.baggage))
            body = json.dumps({"correlation_id": ctx.correlation_id, "trace_id": ctx.trace_id})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  stdlib signature
        pass  # the JSON log line above is the access log


def main() -> int:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Billing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/invoice"
    try:
        incoming = {
            "X-Correlation-ID": "order-7f3a\r\nX-Admin: true",  # header injection attempt
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "baggage": "tenant=acme,session_token=abc123",
        }
        with scope(incoming, config=CONFIG) as ctx:
            print("gateway rejected:", list(ctx.rejected))
            log.info("gateway calling billing")
            headers = inject({}, destination=url, config=CONFIG)
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                seen = json.load(response)
            print(
                "billing saw the same IDs:",
                seen["correlation_id"] == ctx.correlation_id,
                seen["trace_id"] == ctx.trace_id,
            )
            partner = inject({}, destination="https://api.partner.example/", config=CONFIG)
            print("to billing:", sorted(headers))
            print("to a partner:", sorted(partner))
        print("rejections so far:", {k: v for k, v in rejection_counts().items() if v})
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
