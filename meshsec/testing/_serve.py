"""A loopback HTTPS server over mutual TLS that calls a plain function per request.

Built on :mod:`http.server` with a meshsec server context. The TLS handshake
runs in the connection's own thread (not in the accept loop), so a client
that never completes it cannot stall the server. HTTP/1.0 framing closes
each connection after its response, so shutting down never waits on an idle
keep-alive connection.
"""

from __future__ import annotations

import contextlib
import http.server
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs
from cryptography import x509

from meshsec import correlation
from meshsec.context import SecurityContext, run_as
from meshsec.identity import SpiffeId
from meshsec.mtls import peer_id

__all__ = ["Handler", "Response", "ServedRequest", "serve"]

_HOST = "127.0.0.1"
_MAX_BODY = 16 * 1024 * 1024
_CONNECTION_TIMEOUT = 10.0


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def _headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def _headers_repr(value: Mapping[str, str]) -> str:
    # A failing test prints the request: credentials must not go with it.
    shown = {k: "[REDACTED]" if k.lower() in _SECRET_HEADERS else v for k, v in value.items()}
    return repr(shown)


@attrs.frozen(kw_only=True)
class ServedRequest:
    """What a handler passed to ``TestMesh.serve`` receives.

    ``peer`` is the client's SPIFFE ID, checked by meshsec during the
    handshake; ``peer_certificate`` is its X509-SVID (for certificate-bound
    tokens). ``headers`` keep the case the client sent. ``repr`` hides
    credential headers and the body.
    """

    method: str
    path: str
    headers: Mapping[str, str] = attrs.field(converter=_headers, repr=_headers_repr)
    body: bytes = attrs.field(repr=lambda body: f"<{len(body)} bytes>")
    peer: SpiffeId
    peer_certificate: x509.Certificate

    def header(self, name: str, default: str | None = None) -> str | None:
        """One header by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), default)

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, or None."""
        scheme, _, token = (self.header("Authorization") or "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


Response = tuple[int, Mapping[str, str], bytes | str]
Handler = Callable[[ServedRequest], Response]


class _Server(http.server.ThreadingHTTPServer):
    # Request threads are joined by server_close(), so none outlives the block.
    daemon_threads = False

    def __init__(self, context: ssl.SSLContext, handler: Handler) -> None:
        super().__init__((_HOST, 0), _RequestHandler)
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self.handler = handler
        self.errors: list[BaseException] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A refused handshake or a vanished client is an OSError (a refusal is
        # audited by meshsec already); the default would print a traceback to
        # stderr for each. Anything else is a bug worth failing the test for.
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.errors.append(error)


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = _CONNECTION_TIMEOUT

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()  # raises (and closes) for a refused peer
        super().setup()

    def _dispatch(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            # Reading a body we cannot frame would hand the handler a wrong one.
            self._reply(411, {}, b"send a Content-Length; chunked bodies are not supported")
            return
        try:
            request = self._read()
        except ValueError:
            self._reply(400, {}, b"bad request")
            return
        if request is None:
            self._reply(413, {}, b"request body too large")
            return
        try:
            with (
                correlation.scope(dict(request.headers)),
                run_as(_caller(request.peer)),
            ):
                status, headers, data = _response(self.server.handler(request))
        except Exception as exc:  # noqa: BLE001  kept and re-raised when serve() exits
            self.server.errors.append(exc)
            self._reply(500, {}, b"handler raised; see the test's error")
            return
        self._reply(status, headers, data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch  # noqa: N815

    def _read(self) -> ServedRequest | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > _MAX_BODY:
            return None
        body = self.rfile.read(length) if length else b""
        der = self.connection.getpeercert(binary_form=True)
        return ServedRequest(
            method=self.command,
            path=self.path,
            headers=dict(self.headers.items()),
            body=body,
            peer=peer_id(self.connection),
            peer_certificate=x509.load_der_x509_certificate(der),
        )

    def _reply(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  stdlib name
        """Keep test output clean: no access log on stderr."""


def _response(value: object) -> tuple[int, Mapping[str, str], bytes]:
    """Check the handler's ``(status, headers, body)``; TypeError names what is wrong.

    A str body is sent as UTF-8 (``text/plain`` unless the handler set a type)."""
    if not (isinstance(value, tuple) and len(value) == 3):
        raise TypeError("a serve() handler returns (status, headers, body)")
    status, headers, body = value
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise TypeError("the status a serve() handler returns is an int from 100 to 599")
    if not isinstance(headers, Mapping):
        raise TypeError("the headers a serve() handler returns are a mapping of str to str")
    if isinstance(body, str):
        body = body.encode()
        if not any(str(name).lower() == "content-type" for name in headers):
            headers = {**headers, "Content-Type": "text/plain; charset=utf-8"}
    if not isinstance(body, bytes):
        raise TypeError("the body a serve() handler returns is bytes or str")
    return status, headers, body


def _caller(peer: SpiffeId) -> SecurityContext:
    return SecurityContext(principal=str(peer), peer_id=str(peer), correlation=correlation.peek())


@contextlib.contextmanager
def serve(context: ssl.SSLContext, handler: Handler) -> Iterator[str]:
    """Serve ``handler`` over ``context`` on 127.0.0.1; yield the base URL.

    An exception raised by the handler answers 500 and is re-raised when the
    block exits (unless the block itself is raising), so a failed assertion
    inside a handler fails the test instead of vanishing in a thread.
    """
    server = _Server(context, handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="meshsec-testing-serve"
    )
    thread.start()
    try:
        yield f"https://{_HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    if server.errors:
        raise server.errors[0]
