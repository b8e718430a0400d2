"""mTLS figures: full TLS 1.3 mutual handshakes over loopback, and resumption.

1. meshsec contexts (peer SPIFFE check on both sides included) against
   ``ssl`` contexts configured by hand the same way (same suites, group,
   verification, certificates; no SPIFFE check). Target: ratio >= 0.95 in
   throughput, i.e. meshsec's time per handshake <= 1/0.95 of the raw one.
2. A client context resuming sessions (what ``mtls_session`` does) against
   the same context doing full handshakes; both with meshsec's server. Target:
   resumed at least 1.5x faster (ratio <= 0.67 in time).
3. The same through ``requests``: ``mtls_session`` GETs with
   ``Connection: close`` (a new connection each time), resuming vs not.

Each operation connects, completes the handshake, and waits for one byte the
server sends after *its* side of the handshake (and peer check) is done, so
both halves of the mutual handshake are in the figure.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from benchmarks._harness import compare, row
from meshsec.identity import CertificateAuthority, StaticIdentitySource, WorkloadIdentity
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import ECDH_CURVE, TLS12_CIPHERS, allow_id, client_context, server_context

SERVER = "spiffe://example.org/ns/bench/sa/server"
CLIENT = "spiffe://example.org/ns/bench/sa/client"


def _raw_context(
    protocol: int, identity: WorkloadIdentity, ca_pem: str, folder: Path
) -> ssl.SSLContext:
    """What a careful author would write by hand with plain ``ssl``."""
    ctx = ssl.SSLContext(protocol)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.set_ecdh_curve(ECDH_CURVE)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca_pem)
    cert, key = folder / f"{protocol}.pem", folder / f"{protocol}.key"
    cert.write_bytes(identity.chain_pem)
    key.write_bytes(
        identity.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx.load_cert_chain(cert, key)
    if protocol == ssl.PROTOCOL_TLS_SERVER:
        ctx.num_tickets = 1
    return ctx


@contextmanager
def _server(ctx: ssl.SSLContext) -> Iterator[int]:
    """Accept, handshake, send one byte, close; until told to stop."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"x")
                    tls.recv(1)
            except OSError:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _connect_op(ctx: ssl.SSLContext, port: int) -> Callable[[], object]:
    def op() -> object:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            # Small TLS records back to back: without NODELAY, Nagle and delayed
            # ACKs add ~40 ms per connection and hide the handshake cost.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw) as tls:
                return tls.recv(1)

    return op


def _bio_op(
    client: ssl.SSLContext, server: ssl.SSLContext, *, resume: bool
) -> Callable[[], object]:
    """Both halves of a mutual handshake in memory: the TLS work without TCP or threads."""
    sessions: list[ssl.SSLSession | None] = [None]

    def op() -> object:
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        c = client.wrap_bio(c_in, c_out, session=sessions[0] if resume else None)
        s = server.wrap_bio(s_in, s_out, server_side=True)
        pending = [c, s]
        while pending:
            for side in list(pending):
                try:
                    side.do_handshake()
                    pending.remove(side)
                except ssl.SSLWantReadError:
                    pass
                s_in.write(c_out.read())
                c_in.write(s_out.read())
        s.write(b"x")
        c_in.write(s_out.read())
        c.read(1)  # processes the session ticket too
        sessions[0] = c.session
        return c

    return op


@contextmanager
def _https(ctx: ssl.SSLContext) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join(5)
        httpd.server_close()


def main() -> None:
    ca = CertificateAuthority.create("example.org")
    server_source = StaticIdentitySource(ca.issue(SERVER), ca.bundle)
    client_source = StaticIdentitySource(ca.issue(CLIENT), ca.bundle)
    expect = allow_id(SERVER)
    ca_pem = ca.bundle.to_pem().decode("ascii")

    with tempfile.TemporaryDirectory() as folder:
        raw_server = _raw_context(
            ssl.PROTOCOL_TLS_SERVER, server_source.identity, ca_pem, Path(folder)
        )
        raw_client = _raw_context(
            ssl.PROTOCOL_TLS_CLIENT, client_source.identity, ca_pem, Path(folder)
        )
    mesh_server = server_context(server_source)
    full_client = client_context(client_source, expect=expect, resume_sessions=False)
    resuming_client = client_context(client_source, expect=expect)

    with _server(mesh_server) as mesh_port, _server(raw_server) as raw_port:
        figure = compare(
            _connect_op(full_client, mesh_port), _connect_op(raw_client, raw_port), rounds=21
        )
        print(row("full TLS 1.3 mutual handshake (peer check incl.)", figure,
                  target="<= 1.05 (throughput >= 0.95)", raw_name="hand-made ssl"))  # fmt: skip
        print(f"    -> throughput ratio meshsec/raw = {1 / figure.ratio:.2f}")
        figure = compare(
            _connect_op(resuming_client, mesh_port), _connect_op(full_client, mesh_port), rounds=21
        )
        print(row("resumed handshake vs full (client_context)", figure,
                  target="<= 0.67 (>= 1.5x faster)", raw_name="full handshake"))  # fmt: skip
        print(f"    -> resumed handshakes are {1 / figure.ratio:.2f}x faster")

    figure = compare(
        _bio_op(full_client, mesh_server, resume=False),
        _bio_op(raw_client, raw_server, resume=False),
        rounds=21,
    )
    print(row("in memory: full mutual handshake, both sides", figure,
              target="<= 1.05", raw_name="hand-made ssl"))  # fmt: skip
    figure = compare(
        _bio_op(full_client, mesh_server, resume=True),
        _bio_op(full_client, mesh_server, resume=False),
        rounds=21,
    )
    print(row("in memory: resumed vs full handshake", figure,
              target="<= 0.67", raw_name="full handshake"))  # fmt: skip
    print(f"    -> resumed handshakes are {1 / figure.ratio:.2f}x faster without TCP and threads")

    with _https(server_context(server_source)) as url:
        close = {"Connection": "close"}
        with (
            mtls_session(client_source, expect=expect) as resuming,
            mtls_session(client_source, expect=expect, resume_sessions=False) as full,
        ):
            figure = compare(
                lambda: resuming.get(url, headers=close, timeout=5),
                lambda: full.get(url, headers=close, timeout=5),
                rounds=15,
            )
        print(row("mtls_session GET, new connection: resumed vs full", figure,
                  target="<= 0.67 (>= 1.5x faster)", raw_name="full handshake"))  # fmt: skip
        print(f"    -> resumed requests are {1 / figure.ratio:.2f}x faster")


if __name__ == "__main__":
    main()
