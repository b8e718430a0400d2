"""The two loopback services behind ``meshsec demo``.

``orders`` receives the client's call and calls ``payments``; both run in
threads on 127.0.0.1 with stdlib ``http.server``. Each handler adopts the
caller's correlation headers (validated by :func:`meshsec.correlation.scope`),
logs through the correlation filter, and emits audit events.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from meshsec import audit, correlation

Handler = Callable[["Request"], tuple[int, dict[str, Any]]]


class Request:
    """What a demo handler sees: method, path, headers and the JSON body."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


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
            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                headers = dict(self.headers.items())
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with correlation.scope(headers):
                    status, payload = service.dispatch(
                        Request(self.command, self.path, headers, body)
                    )
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    correlation.inject(self._outgoing())
                    self.end_headers()
                    self.wfile.write(data)

            def _outgoing(self) -> _HeaderWriter:
                return _HeaderWriter(self)

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


def call(session: requests.Session, url: str, body: dict[str, Any]) -> requests.Response:
    """POST ``body`` to ``url`` carrying the current correlation headers."""
    headers = correlation.inject({}, destination=url)
    return session.post(url, json=body, headers=headers, timeout=10)


@contextmanager
def running(*services: Service) -> Iterator[None]:
    for service in services:
        service.start()
    try:
        yield
    finally:
        for service in services:
            service.stop()


def build_services(session: requests.Session) -> tuple[Service, Service]:
    """orders -> payments: orders forwards a charge, payments records it."""

    def payments(request: Request) -> tuple[int, dict[str, Any]]:
        amount = (request.body or {}).get("amount")
        audit.record(
            audit.Category.AUTHORIZATION,
            "payments:charge",
            audit.Outcome.SUCCESS,
            actor="orders",
            target=request.path,
            attributes={"amount": amount},
        )
        return 200, {"charged": amount, "correlation_id": correlation.current_id()}

    payments_service = Service("payments", payments)

    def orders(request: Request) -> tuple[int, dict[str, Any]]:
        order = request.body or {}
        audit.record(
            audit.Category.AUTHORIZATION,
            "orders:create",
            audit.Outcome.SUCCESS,
            actor="client",
            target=request.path,
        )
        reply = call(session, payments_service.url + "/charge", {"amount": order.get("amount")})
        return reply.status_code, {"order": "accepted", "payment": reply.json()}

    return Service("orders", orders), payments_service
