"""SSLSocket and SSLObject subclasses that check the peer before any application data.

Every meshsec context sets ``sslsocket_class`` and ``sslobject_class`` to
these, so *any* user of the context (raw sockets, ``http.client``,
urllib3/requests, asyncio) gets the SPIFFE check right after the handshake,
on resumed connections too. ``read``/``write``/``send`` are guarded as well:
with ``do_handshake_on_connect=False`` OpenSSL would otherwise complete the
handshake implicitly inside the first write, before any check.
"""

from __future__ import annotations

import ssl
from typing import Any

from meshsec.errors import MeshsecError
from meshsec.identity import SpiffeId
from meshsec.mtls._policy import audited, policy_of, translate

_WANT = (ssl.SSLWantReadError, ssl.SSLWantWriteError)


def _role(conn: ssl.SSLSocket | ssl.SSLObject) -> str:
    return "server" if conn.server_side else "client"


def _handshake(conn: ssl.SSLSocket | ssl.SSLObject, run: Any) -> SpiffeId:
    """Guard the context, run the TLS handshake, then authorize the peer."""
    try:
        policy = policy_of(conn)
        policy.guard(conn.context)
    except MeshsecError as exc:
        audited(conn, exc, role=_role(conn))
        raise
    try:
        run()
    except _WANT:
        raise
    except ssl.SSLError as exc:
        error = translate(exc)
        audited(conn, error, role=policy.role)
        raise error from None
    try:
        return policy.authorize(conn)
    except MeshsecError as exc:
        audited(conn, exc, role=policy.role)
        raise


class MeshsecSocket(ssl.SSLSocket):
    """An SSLSocket that refuses to carry data until the peer passed meshsec's check."""

    meshsec_peer: SpiffeId | None = None
    _meshsec_session_key: object = None

    def do_handshake(self, block: bool = False) -> None:
        if self.meshsec_peer is not None:
            super().do_handshake(block)
            return
        try:
            self.meshsec_peer = _handshake(
                self, lambda: super(MeshsecSocket, self).do_handshake(block)
            )
        except _WANT:
            raise
        except OSError:
            # Close at once: no byte of application data may follow a refusal.
            self.close()
            raise

    def _meshsec_ensure(self) -> None:
        if self.meshsec_peer is None and getattr(self, "_sslobj", None) is not None:
            self.do_handshake()

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002  ssl's own signature
        self._meshsec_ensure()
        data = super().read(len, buffer)
        if self._meshsec_session_key is not None and data:
            self._meshsec_keep_session()
        return data

    def write(self, data: Any) -> int:
        self._meshsec_ensure()
        return super().write(data)

    def send(self, data: Any, flags: int = 0) -> int:
        self._meshsec_ensure()
        return super().send(data, flags)

    def _meshsec_keep_session(self) -> None:
        # TLS 1.3 tickets arrive after the handshake, ahead of the server's
        # first application data: the first read that returns data has
        # processed them, so that is the one moment to look (once).
        key, self._meshsec_session_key = self._meshsec_session_key, None
        session = self.session
        cache = getattr(self.context, "_meshsec_sessions", None)
        if session is not None and session.has_ticket and cache is not None:
            cache.put(key, session)


class MeshsecObject(ssl.SSLObject):
    """The memory-BIO twin of :class:`MeshsecSocket` (asyncio, TLS-in-TLS)."""

    meshsec_peer: SpiffeId | None = None

    def do_handshake(self) -> None:
        if self.meshsec_peer is not None:
            super().do_handshake()
            return
        self.meshsec_peer = _handshake(self, super().do_handshake)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002  ssl's own signature
        if self.meshsec_peer is None:
            self.do_handshake()
        return super().read(len, buffer)

    def write(self, data: Any) -> int:
        if self.meshsec_peer is None:
            self.do_handshake()
        return super().write(data)
