"""TestMesh: a throwaway trust domain with workloads, tokens and keys, in three calls.

trustme is the model: ``mesh = TestMesh()``, ``orders = mesh.workload("orders")``,
``mesh.client_session(orders, expect="payments")``. Every object it hands out
is the real meshsec one (CA, identity sources, SSL contexts, token issuer and
verifier, keyring); nothing is mocked, so a test that passes against a
TestMesh exercises the same checks as production.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from cryptography import x509

from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError
from meshsec.fields import Keyring
from meshsec.identity import CertificateAuthority, IdentitySource, SpiffeId, StaticIdentitySource
from meshsec.integrations.requests import mtls_session
from meshsec.mtls import Matcher, allow_id, client_context, server_context
from meshsec.testing._serve import Handler, serve
from meshsec.tokens import KeySet, TokenIssuer, TokenVerifier

if TYPE_CHECKING:
    import requests

__all__ = ["TestMesh"]

Workload = str | SpiffeId | IdentitySource
Peers = Matcher | Workload | Sequence[Workload]


class TestMesh:
    """A trust domain for tests: a CA, named workloads, a token issuer and a keyring.

    ``clock`` drives the CA, the tokens, the keyring and the peer checks;
    keep it near the real time when TLS is involved (OpenSSL checks
    certificate validity against the real clock as well). Use it as a context
    manager or call :meth:`close`; closing twice is harmless.
    """

    __test__ = False  # a helper, not a test class: pytest must not try to collect it

    def __init__(self, trust_domain: str = "test.example", *, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else system_clock
        self._ca = CertificateAuthority.create(trust_domain, clock=self._clock)
        self._lock = threading.Lock()
        self._workloads: dict[SpiffeId, StaticIdentitySource] = {}
        self._keys = KeySet.generate()
        self._issuer = TokenIssuer(issuer=self.issuer_name, keys=self._keys, clock=self._clock)
        self._keyring: Keyring | None = None
        self._closers = contextlib.ExitStack()
        self._closed = False

    # -- identities ------------------------------------------------------

    @property
    def trust_domain(self) -> str:
        return self._ca.trust_domain

    @property
    def ca(self) -> CertificateAuthority:
        """The mesh's certificate authority (issue extra or odd certificates with it)."""
        return self._ca

    @property
    def clock(self) -> Clock:
        return self._clock

    def spiffe_id(self, workload: Workload) -> SpiffeId:
        """``"orders"`` -> ``spiffe://<td>/orders``; full IDs and sources pass through.

        Raises InvalidSpiffeId for a name that is no valid SPIFFE path.
        """
        if isinstance(workload, SpiffeId):
            return workload
        if isinstance(workload, IdentitySource):
            return workload.identity.spiffe_id
        if not isinstance(workload, str):
            raise ConfigError("a workload is a name, a SPIFFE ID or an identity source")
        if workload.startswith("spiffe://"):
            return SpiffeId.parse(workload)
        return SpiffeId.parse(f"spiffe://{self.trust_domain}/{workload.lstrip('/')}")

    def workload(self, name: Workload) -> StaticIdentitySource:
        """The identity source of a workload, created on first use.

        The same name always returns the same source; rotate it with
        ``source.update(mesh.ca.issue(source.identity.spiffe_id))``. Raises
        InvalidSpiffeId or TrustDomainMismatch (an ID of another domain).
        """
        sid = self.spiffe_id(name)
        with self._lock:
            self._check_open()
            source = self._workloads.get(sid)
            if source is None:
                source = StaticIdentitySource(
                    self._ca.issue(sid), self._ca.bundle, clock=self._clock
                )
                self._workloads[sid] = source
            return source

    def _peers(self, peers: Peers) -> Matcher:
        if isinstance(peers, str | SpiffeId | IdentitySource):
            return allow_id(self.spiffe_id(peers))
        if isinstance(peers, Sequence):
            return allow_id(*(self.spiffe_id(p) for p in peers))
        if callable(peers):
            return peers
        raise ConfigError("peers are a matcher, a workload name, an ID, a source or a list of them")

    # -- mutual TLS -----------------------------------------------------

    def server_context(self, workload: Workload, *, allow: Peers | None = None) -> ssl.SSLContext:
        """A meshsec mTLS server context for ``workload``.

        ``allow`` takes workload names, IDs, sources or a matcher; by default
        any workload of the mesh's trust domain may connect (meshsec's default).
        """
        matcher = None if allow is None else self._peers(allow)
        return server_context(self.workload(workload), allow=matcher, clock=self._clock)

    def client_context(self, workload: Workload, *, expect: Peers) -> ssl.SSLContext:
        """A meshsec mTLS client context for ``workload`` that accepts only ``expect``."""
        return client_context(
            self.workload(workload), expect=self._peers(expect), clock=self._clock
        )

    def client_session(self, workload: Workload, *, expect: Peers) -> requests.Session:
        """A ``requests.Session`` (``mtls_session``) calling as ``workload``.

        ``expect`` names the servers it may talk to. The session is closed
        with the mesh.
        """
        session = mtls_session(
            self.workload(workload), expect=self._peers(expect), clock=self._clock
        )
        self._closers.callback(session.close)
        return session

    @contextlib.contextmanager
    def serve(
        self, handler: Handler, *, workload: Workload, allow: Peers | None = None
    ) -> Iterator[str]:
        """Serve ``handler`` over mTLS as ``workload`` on 127.0.0.1; yield the base URL.

        ``handler(request)`` gets a :class:`ServedRequest` (method, path,
        headers, body, the peer's checked SPIFFE ID and certificate) and
        returns ``(status, headers, body)``. It runs with the caller as the
        current security context and the request's correlation headers in
        scope. A handler exception answers 500 and is re-raised on exit.
        """
        with serve(self.server_context(workload, allow=allow), handler) as url:
            yield url

    # -- tokens and keys ------------------------------------------------

    @property
    def issuer_name(self) -> str:
        """The ``iss`` of the mesh's tokens."""
        return f"https://issuer.{self.trust_domain}"

    @property
    def keys(self) -> KeySet:
        """The signing keys (EdDSA) of :attr:`issuer`; publish with ``keys.to_jwks()``."""
        return self._keys

    @property
    def issuer(self) -> TokenIssuer:
        return self._issuer

    def token(
        self,
        subject: Workload,
        audience: Workload,
        *,
        scopes: Iterable[str] = (),
        bind_to: IdentitySource | x509.Certificate | None = None,
        ttl: timedelta | None = None,
    ) -> str:
        """An access token for ``subject`` to present to ``audience``.

        Plain strings are used as they are (``"alice"``, ``"payments-api"``);
        SPIFFE IDs and sources stand for their ID. ``bind_to`` (a workload's
        source or a certificate) binds the token to that certificate (RFC 8705).
        """
        cert = bind_to.identity.certificate if isinstance(bind_to, IdentitySource) else bind_to
        return self._issuer.issue(
            _name(subject), _name(audience), scopes=scopes, ttl=ttl, bind_to=cert
        )

    def verifier(self, audience: Workload) -> TokenVerifier:
        """A verifier of the mesh's tokens for ``audience`` (named as in :meth:`token`)."""
        return TokenVerifier(
            issuer=self.issuer_name, audience=_name(audience), keys=self._keys, clock=self._clock
        )

    @property
    def keyring(self) -> Keyring:
        """A field-protection keyring, created on first use."""
        with self._lock:
            if self._keyring is None:
                self._keyring = Keyring.generate("test", clock=self._clock)
            return self._keyring

    # -- lifetime -------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this TestMesh is closed; create a new one")

    def close(self) -> None:
        """Close the sessions handed out. Idempotent."""
        self._closed = True
        self._closers.close()

    def __enter__(self) -> TestMesh:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TestMesh(trust_domain={self.trust_domain!r}, workloads={len(self._workloads)})"


def _name(value: Workload) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, SpiffeId):
        return str(value)
    if isinstance(value, IdentitySource):
        return str(value.identity.spiffe_id)
    raise ConfigError("name a subject or audience with a string, a SPIFFE ID or a source")
