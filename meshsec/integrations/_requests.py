"""mtls_session: implementation (public name in ``meshsec.integrations.requests``).

The session presents the workload identity of an
:class:`~meshsec.identity.IdentitySource`, trusts only its bundle, checks the
server's SPIFFE ID on every new connection (resumed ones included) before the
request is written, and uses the newest identity for connections opened after
a rotation. TLS sessions are resumed across connections to the same server.

requests and urllib3 would otherwise change a custom context in place:
``verify=<path>`` (or ``REQUESTS_CA_BUNDLE``) loads more trust anchors into it,
``verify=False`` turns verification off, ``cert=`` loads another key. The
adapter below pins all three, and the meshsec context refuses to handshake if
anything weakened it anyway.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from meshsec.clock import Clock, system_clock
from meshsec.errors import ConfigError, MeshsecError
from meshsec.identity import IdentitySource
from meshsec.mtls import Matcher, client_context


def mtls_session(
    source: IdentitySource,
    *,
    expect: Matcher,
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    clock: Clock = system_clock,
    resume_sessions: bool = True,
) -> requests.Session:
    """A session for ``https://`` calls to peers accepted by ``expect``.

    A server that fails the check raises the typed meshsec error
    (:class:`~meshsec.mtls.PeerNotAuthorized`,
    :class:`~meshsec.mtls.PeerCertificateInvalid` ...) from the request call,
    and nothing of the request is sent. ``http://`` URLs, ``verify=False`` and
    ``cert=`` raise :class:`~meshsec.errors.ConfigError`.
    """
    context = client_context(
        source,
        expect=expect,
        min_version=min_version,
        clock=clock,
        resume_sessions=resume_sessions,
    )
    session = requests.Session()
    session.mount("https://", _MtlsAdapter(context))
    session.mount("http://", _PlainHttpRefused())
    return session


class _MtlsAdapter(HTTPAdapter):
    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:  # the stubs' TypedDict has no assert_hostname key
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        # assert_hostname=False: the identity is the SPIFFE ID, checked by the
        # context's socket class; urllib3 would otherwise match DNS names.
        pool_kwargs = {
            "cert_reqs": "CERT_REQUIRED",
            "ssl_context": self._context,
            "assert_hostname": False,
        }
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would point the pool at certifi (or REQUESTS_CA_BUNDLE) and
        # urllib3 would load it into our context: trust stays the bundle only.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None
        conn.cert_file = None
        conn.key_file = None

    def send(  # noqa: PLR0917  requests' own signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if verify is False:
            raise ConfigError(
                "an mTLS session always verifies the server against the trust bundle; "
                "verify=False is not supported"
            )
        if cert is not None:
            raise ConfigError(
                "an mTLS session presents the identity source's certificate; drop cert="
            )
        try:
            return super().send(request, stream, timeout, True, None, proxies)
        except requests.RequestException as exc:
            typed = _meshsec_cause(exc)
            if typed is None:
                raise
            raise typed from exc


def _meshsec_cause(exc: BaseException) -> MeshsecError | None:
    """The meshsec error urllib3 and requests wrapped (SSLError -> MaxRetryError -> ...)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, MeshsecError):
            return item
        pending.extend(item.args)
        pending.extend((getattr(item, "reason", None), item.__cause__, item.__context__))
    return None


class _PlainHttpRefused(BaseAdapter):
    def send(self, *_args: Any, **_kwargs: Any) -> requests.Response:
        raise ConfigError("an mTLS session refuses plain http:// URLs; use https://")

    def close(self) -> None:
        pass
