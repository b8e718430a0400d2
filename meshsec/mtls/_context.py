"""Server and client ``ssl.SSLContext`` factories bound to an IdentitySource.

Every context meshsec builds is configured the same way:

* TLS 1.2 minimum (TLS 1.3 preferred, negotiated whenever both sides can);
* TLS 1.2 suites limited to ECDHE key exchange with AEAD ciphers
  (AES-GCM, ChaCha20-Poly1305); every TLS 1.3 suite is ECDHE/AEAD already;
* one key-exchange group, P-256 (see ``docs/mtls.md`` for why not X25519);
* no compression (CRIME), no renegotiation;
* ``CERT_REQUIRED`` on both sides, trust anchors = the source's bundle only,
  never the system store; the client does not check host names because the
  identity that matters is the SPIFFE ID, which meshsec checks itself right
  after the handshake (see ``_socket.py``).

Rotation never reloads certificates into a context that is in use (CPython
issues 118596 and 134698: ``load_cert_chain`` on a live context races with
handshakes). Instead each rotation builds a fresh context, and the context the
caller holds hands every *new* connection to the newest one in its
``wrap_socket``/``wrap_bio``. Open connections keep their context and are not
dropped. Session caches and ticket keys belong to one ``SSL_CTX``, so a
rotation also ends resumption of every session made under the old one.
"""

from __future__ import annotations

import socket
import ssl
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from meshsec import audit
from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError, MeshsecError
from meshsec.identity import IdentitySource, TrustBundle, WorkloadIdentity
from meshsec.mtls import _events
from meshsec.mtls._errors import _RotationFailed
from meshsec.mtls._keyload import load_identity
from meshsec.mtls._matchers import Matcher, allow_trust_domain
from meshsec.mtls._policy import PeerPolicy, Role
from meshsec.mtls._socket import MeshsecObject, MeshsecSocket

#: TLS 1.2 suites: ECDHE key exchange, AEAD ciphers only (Mozilla "intermediate").
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
#: The single key-exchange group (Python 3.11's ssl can set only one).
ECDH_CURVE = "prime256v1"
_VERSIONS = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
_SESSION_CACHE_SIZE = 256
# ssl.SSLContext.verify_mode is a Python property over the C slot (typeshed
# declares it as a plain attribute, hence Any).
_BASE_VERIFY_MODE: Any = vars(ssl.SSLContext)["verify_mode"]
_BASE_MINIMUM_VERSION: Any = vars(ssl.SSLContext)["minimum_version"]
_BASE_OPTIONS: Any = vars(ssl.SSLContext)["options"]
_REQUIRED_OPTIONS = ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION


class _SessionCache:
    """Client sessions per (server name, address), bounded, for one context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: OrderedDict[object, ssl.SSLSession] = OrderedDict()

    def get(self, key: object) -> ssl.SSLSession | None:
        with self._lock:
            return self._sessions.get(key)

    def put(self, key: object, session: ssl.SSLSession) -> None:
        with self._lock:
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > _SESSION_CACHE_SIZE:
                self._sessions.popitem(last=False)


class MeshsecContext(ssl.SSLContext):
    """An ``ssl.SSLContext`` whose new connections always use the current identity."""

    _meshsec_policy: PeerPolicy | None = None
    _meshsec_rotation: _Rotation | None = None
    _meshsec_sessions: _SessionCache | None = None
    _socket_class: type[ssl.SSLSocket] = MeshsecSocket
    _object_class: type[ssl.SSLObject] = MeshsecObject

    def _meshsec_current(self) -> MeshsecContext:
        rotation = self._meshsec_rotation
        return self if rotation is None else rotation.current()

    def wrap_socket(  # noqa: PLR0917  ssl.SSLContext's own signature
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> MeshsecSocket:
        ctx = self._meshsec_current()
        key = None
        if ctx is not self:
            session = None  # a session belongs to the context that made it
        if not server_side and session is None and ctx._meshsec_sessions is not None:
            key = _session_key(sock, server_hostname)
            session = ctx._meshsec_sessions.get(key) if key is not None else None
        wrapped = ssl.SSLContext.wrap_socket(
            ctx,
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        assert isinstance(wrapped, MeshsecSocket)
        wrapped._meshsec_session_key = key
        return wrapped

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> MeshsecObject:
        ctx = self._meshsec_current()
        if ctx is not self:
            session = None
        wrapped = ssl.SSLContext.wrap_bio(
            ctx, incoming, outgoing, server_side, server_hostname, session
        )
        assert isinstance(wrapped, MeshsecObject)
        return wrapped

    # Trust is the bundle and the identity is the source's: a framework that
    # tries to load more anchors or another key into a meshsec context (urllib3
    # does both when given paths) is refused at once rather than obeyed.
    def load_verify_locations(self, *_args: Any, **_kwargs: Any) -> None:
        raise ConfigError(
            "a meshsec context trusts only its identity source's bundle; "
            "put extra roots in the TrustBundle instead"
        )

    def load_default_certs(self, *_args: Any, **_kwargs: Any) -> None:
        raise ConfigError("a meshsec context never trusts the system certificate store")

    def set_default_verify_paths(self) -> None:
        raise ConfigError("a meshsec context never trusts the system certificate store")

    def load_cert_chain(self, *_args: Any, **_kwargs: Any) -> None:
        raise ConfigError("a meshsec context presents its identity source's certificate only")

    @property  # type: ignore[override]  # typeshed: int in _SSLContext, VerifyMode in SSLContext
    def verify_mode(self) -> ssl.VerifyMode:
        return ssl.VerifyMode(_BASE_VERIFY_MODE.__get__(self))

    @verify_mode.setter
    def verify_mode(self, value: ssl.VerifyMode) -> None:
        if value != ssl.CERT_REQUIRED:
            raise ConfigError("a meshsec context always requires and verifies the peer certificate")
        _BASE_VERIFY_MODE.__set__(self, value)

    @property  # type: ignore[override]  # typeshed: int in _SSLContext, TLSVersion here
    def minimum_version(self) -> ssl.TLSVersion:
        return ssl.TLSVersion(_BASE_MINIMUM_VERSION.__get__(self))

    @minimum_version.setter
    def minimum_version(self, value: ssl.TLSVersion) -> None:
        _BASE_MINIMUM_VERSION.__set__(self, _check_version(value))

    @property  # type: ignore[override]  # typeshed: int in _SSLContext, Options here
    def options(self) -> ssl.Options:
        return ssl.Options(_BASE_OPTIONS.__get__(self))

    @options.setter
    def options(self, value: ssl.Options) -> None:
        if value & _REQUIRED_OPTIONS != _REQUIRED_OPTIONS:
            raise ConfigError("a meshsec context keeps compression and renegotiation off")
        _BASE_OPTIONS.__set__(self, value)

    def set_ciphers(self, cipherlist: str) -> None:
        """Narrow the TLS 1.2 suites; anything but ECDHE with AEAD is refused."""
        if "@SECLEVEL" in cipherlist.upper():
            raise ConfigError("a meshsec context keeps OpenSSL's default security level")
        previous = ":".join(c["name"] for c in _tls12_suites(self))
        super().set_ciphers(cipherlist)
        if any(not (c["aead"] and c["kea"] == "kx-ecdhe") for c in _tls12_suites(self)):
            super().set_ciphers(previous or TLS12_CIPHERS)
            raise ConfigError("a meshsec context allows only ECDHE key exchange with AEAD ciphers")

    # The peer check lives in these classes: swapping them out would skip it.
    @property
    def sslsocket_class(self) -> type[ssl.SSLSocket]:
        return self._socket_class

    @sslsocket_class.setter
    def sslsocket_class(self, value: type[ssl.SSLSocket]) -> None:
        if not (isinstance(value, type) and issubclass(value, MeshsecSocket)):
            raise ConfigError("a meshsec context's socket class must subclass MeshsecSocket")
        self._socket_class = value

    @property
    def sslobject_class(self) -> type[ssl.SSLObject]:
        return self._object_class

    @sslobject_class.setter
    def sslobject_class(self, value: type[ssl.SSLObject]) -> None:
        if not (isinstance(value, type) and issubclass(value, MeshsecObject)):
            raise ConfigError("a meshsec context's object class must subclass MeshsecObject")
        self._object_class = value

    def set_alpn_protocols(self, alpn_protocols: Any) -> None:
        # Frameworks (urllib3) set ALPN on the context they were given; carry
        # it over to every context built by later rotations.
        super().set_alpn_protocols(alpn_protocols)
        rotation = self._meshsec_rotation
        if rotation is not None:
            rotation.set_alpn(list(alpn_protocols))


def _tls12_suites(ctx: ssl.SSLContext) -> list[dict[str, Any]]:
    # get_ciphers() lists TLS 1.3 suites too; "protocol" names the version a
    # suite first appeared in, so everything not "TLSv1.3" is a pre-1.3 suite.
    return [dict(c) for c in ctx.get_ciphers() if c["protocol"] != "TLSv1.3"]


def _session_key(sock: socket.socket, server_hostname: str | bytes | None) -> object:
    try:
        return (server_hostname, sock.getpeername())
    except OSError:  # not connected yet: nothing to resume against
        return None


_Builder = Callable[[WorkloadIdentity, TrustBundle], MeshsecContext]


class _Rotation:
    """Builds a fresh context whenever the source's identity or bundle changes."""

    def __init__(
        self,
        source: IdentitySource,
        build: Callable[[WorkloadIdentity, TrustBundle], MeshsecContext],
    ) -> None:
        self._source = source
        self._build = build
        self._lock = threading.Lock()
        self._alpn: list[str] | None = None
        identity, bundle = source.identity, source.bundle
        self._built_from = (identity, bundle)
        self._ctx = build(identity, bundle)
        self._ctx._meshsec_rotation = self
        ref = weakref.ref(self)

        def on_rotate(_identity: WorkloadIdentity, _bundle: TrustBundle) -> None:
            rotation = ref()
            if rotation is not None:
                rotation.refresh()

        self._unsubscribe = source.subscribe(on_rotate)
        weakref.finalize(self, self._unsubscribe)

    @property
    def root(self) -> MeshsecContext:
        return self._ctx

    def current(self) -> MeshsecContext:
        source = self._source
        identity, bundle = self._built_from
        if source.identity is identity and source.bundle is bundle:
            return self._ctx
        return self.refresh()

    def _snapshot(self) -> tuple[WorkloadIdentity, TrustBundle]:
        # The protocol exposes identity and bundle separately; read until the
        # identity did not change across the bundle read (a consistent pair).
        while True:
            identity = self._source.identity
            bundle = self._source.bundle
            if self._source.identity is identity:
                return identity, bundle

    def refresh(self) -> MeshsecContext:
        """Build a context for the source's state *read under the lock*.

        Reading under the lock is what keeps rotation monotonic: a thread that
        saw the old state before a rotation and then waited for the lock
        cannot install a context of the old state after the new one.
        """
        with self._lock:
            identity, bundle = self._snapshot()
            if self._built_from == (identity, bundle):
                self._built_from = (identity, bundle)  # equal values: no new context
                return self._ctx
            try:
                ctx = self._build(identity, bundle)
            except (MeshsecError, OSError, ValueError) as exc:
                # Keep serving with the last good context; say so once (the
                # failed state is remembered so it is not retried per connection).
                self._built_from = (identity, bundle)
                error = exc if isinstance(exc, MeshsecError) else _RotationFailed()
                _events.refused(
                    "rotate", error, peer=identity.spiffe_id, category=audit.Category.CERTIFICATE
                )
                return self._ctx
            ctx._meshsec_rotation = self
            if self._alpn is not None:
                ssl.SSLContext.set_alpn_protocols(ctx, self._alpn)
            # Context first, then the state it was built from: the lock-free
            # fast path in current() never pairs a new state with an old context.
            self._ctx = ctx
            self._built_from = (identity, bundle)
            return ctx

    def set_alpn(self, protocols: list[str]) -> None:
        with self._lock:
            self._alpn = protocols
            ssl.SSLContext.set_alpn_protocols(self._ctx, protocols)


def _check_version(min_version: ssl.TLSVersion) -> ssl.TLSVersion:
    if min_version not in _VERSIONS:
        raise ConfigError("min_version must be ssl.TLSVersion.TLSv1_2 or TLSv1_3")
    return min_version


def _build(
    role: Role,
    identity: WorkloadIdentity,
    bundle: TrustBundle,
    *,
    matcher: Matcher,
    clock: Clock,
    min_version: ssl.TLSVersion,
    resume_sessions: bool = False,
) -> MeshsecContext:
    protocol = ssl.PROTOCOL_TLS_SERVER if role == "server" else ssl.PROTOCOL_TLS_CLIENT
    ctx = MeshsecContext(protocol)
    ctx.minimum_version = min_version
    ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    ctx.set_ciphers(TLS12_CIPHERS)
    # CRIME (compression) and renegotiation attacks; OP_NO_RENEGOTIATION also
    # refuses TLS 1.2 client-initiated renegotiation.
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.set_ecdh_curve(ECDH_CURVE)
    ctx.check_hostname = False  # the SPIFFE ID is checked instead, after the handshake
    ctx.verify_mode = ssl.CERT_REQUIRED
    ssl.SSLContext.load_verify_locations(ctx, cadata=bundle.to_pem().decode("ascii"))
    load_identity(ctx, identity)
    if role == "server":
        # One TLS 1.3 ticket per connection (OpenSSL sends two by default): a
        # meshsec client keeps only the latest session per server anyway.
        ctx.num_tickets = 1
    if resume_sessions:
        ctx._meshsec_sessions = _SessionCache()
    ctx._meshsec_policy = PeerPolicy(
        role=role,
        trust_domain=bundle.trust_domain,
        matcher=matcher,
        clock=clock,
    )
    return ctx


def server_context(
    source: IdentitySource,
    *,
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    allow: Matcher | None = None,
    clock: Clock = system_clock,
) -> ssl.SSLContext:
    """An mTLS server context that presents the source's identity.

    Clients must present a certificate that chains to the source's bundle and
    passes the X509-SVID checks; ``allow`` (default: any workload of the
    bundle's trust domain) decides which SPIFFE IDs may connect. A refused
    client is disconnected before any application data is read or written,
    and one authentication audit event is emitted.

    Raises ConfigError for a bad ``min_version`` and the identity errors of a
    broken source.
    """
    version = _check_version(min_version)
    if allow is not None and not callable(allow):
        raise ConfigError("allow must be a matcher such as allow_path_prefix(...)")
    default = allow_trust_domain(source.bundle.trust_domain)

    def build(identity: WorkloadIdentity, bundle: TrustBundle) -> MeshsecContext:
        matcher = allow if allow is not None else default
        return _build("server", identity, bundle, matcher=matcher, clock=clock, min_version=version)

    return _Rotation(source, build).root


def client_context(
    source: IdentitySource,
    *,
    expect: Matcher,
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    clock: Clock = system_clock,
    resume_sessions: bool = True,
) -> ssl.SSLContext:
    """An mTLS client context that presents the source's identity.

    The server must chain to the source's bundle, pass the X509-SVID checks
    and be accepted by ``expect`` (for example ``allow_id("spiffe://...")``);
    otherwise the handshake raises a :class:`~meshsec.errors.TLSError`
    subclass and the socket is closed before any application data is sent.

    With ``resume_sessions`` (the default) a new connection to a server
    address resumes the last TLS session made with that server under the
    current identity; the peer's certificate is checked again all the same.
    """
    if not callable(expect):
        raise ConfigError("expect must be a matcher such as allow_id(...)")
    version = _check_version(min_version)

    def build(identity: WorkloadIdentity, bundle: TrustBundle) -> MeshsecContext:
        return _build(
            "client",
            identity,
            bundle,
            matcher=expect,
            clock=clock,
            min_version=version,
            resume_sessions=resume_sessions,
        )

    return _Rotation(source, build).root
