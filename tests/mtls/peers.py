"""Real peers for the mTLS tests: openssl s_server / s_client and a meshsec echo server.

Everything listens on 127.0.0.1 on a free port and is torn down by the
fixture that started it (no leaked processes, threads or sockets).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from meshsec.errors import MeshsecError
from meshsec.identity import SpiffeId
from meshsec.mtls import peer_id

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def openssl_server(
    tmp_path: Path, cert: Path, key: Path, ca_file: Path, *extra: str
) -> Iterator[int]:
    """``openssl s_server -rev`` requiring a client certificate; yields its port."""
    assert OPENSSL is not None
    port = free_port()
    log = tmp_path / f"s_server-{port}.log"
    args = [
        OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
        "-key", str(key), "-CAfile", str(ca_file), "-Verify", "1", "-verify_return_error",
        "-rev", *extra,
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while b"ACCEPT" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"s_server did not start: {log.read_text(errors='replace')}")
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def openssl_client(
    port: int, *args: str, send: bytes = b"ping\n", timeout: float = 10
) -> subprocess.CompletedProcess[bytes]:
    """Run ``openssl s_client`` against 127.0.0.1:port, send a line, wait for the close."""
    assert OPENSSL is not None
    cmd = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-ign_eof", "-quiet", *args]
    return subprocess.run(cmd, input=send, capture_output=True, timeout=timeout, check=False)


class EchoServer:
    """A meshsec mTLS server in a thread: answers one line with ``echo:<peer id>:<line>``."""

    def __init__(self, context: object) -> None:
        self.context = context
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.errors: list[BaseException] = []
        self.peers: list[SpiffeId] = []
        self.resumed: list[bool] = []
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for worker in self._workers:
            worker.join(10)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            worker = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._workers.append(worker)
            worker.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:  # type: ignore[attr-defined]
                sid = peer_id(tls)
                self.peers.append(sid)
                self.resumed.append(tls.session_reused)
                line = tls.recv(1024)
                self.received.append(line)
                tls.sendall(b"echo:" + str(sid).encode() + b":" + line)
        except (MeshsecError, OSError) as exc:
            self.errors.append(exc)
        finally:
            conn.close()


def meshsec_exchange(
    context: object, port: int, message: bytes = b"ping\n", *, session: object = None
) -> tuple[bytes, bool, object]:
    """Connect with a meshsec client context, send a line, return (reply, resumed, session)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        wrap = context.wrap_socket  # type: ignore[attr-defined]
        with wrap(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(message)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply, tls.session_reused, tls.session


def write_chain(path: Path, certs: Sequence[object]) -> Path:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))  # type: ignore[attr-defined]
    return path


def auth_events(events: Sequence[Any]) -> list[Any]:
    """The authentication audit events among those captured (CA issuance is audited too)."""
    return [e for e in events if str(e.category.value) == "authentication"]


class HttpsServer:
    """A threaded HTTPS (mTLS) server answering ``<peer id> <leaf serial hex> <resumed>``.

    The listening socket is wrapped with the meshsec context, so handshakes
    (and refusals) happen in ``accept`` like in any ``ssl``-wrapped
    ``socketserver``: a refused client must not stop the server.
    """

    def __init__(self, context: Any) -> None:
        import http.server

        owner = self
        self.requests = 0
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Idle keep-alive connections stay open well beyond any scheduling
            # stall of a loaded box: a server closing one just as the client
            # reuses it reads as RemoteDisconnected, which is not what the
            # rotation test is about.
            timeout = 60

            def do_GET(self) -> None:
                from cryptography import x509

                with owner._lock:
                    owner.requests += 1
                der = self.connection.getpeercert(binary_form=True)
                serial = x509.load_der_x509_certificate(der).serial_number
                body = f"{peer_id(self.connection)} {serial:x} {self.connection.session_reused}"
                payload = body.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = False
            block_on_close = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = int(self.httpd.server_address[1])
        self.url = f"https://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def __enter__(self) -> HttpsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self._thread.join(10)
        self.httpd.server_close()
