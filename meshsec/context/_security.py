"""The current caller of the running request, held in a ContextVar."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from meshsec.correlation import CorrelationContext


def _freeze(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _scopes(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        # A lone "a b" string is an OAuth scope claim; never split it into letters.
        return frozenset(value.split())
    return frozenset(value)


def _redacted_claims(value: Mapping[str, Any]) -> str:
    # Claim names help debugging; claim values may be personal data.
    return "{" + ", ".join(f"{k!r}: ..." for k in sorted(value)) + "}"


@attrs.frozen(kw_only=True)
class SecurityContext:
    """Who is calling, as established by the integrations for one request.

    ``peer_id`` is the SPIFFE ID (string form) proven by the peer's mTLS
    certificate, or None; ``principal`` is the subject the call runs as (a
    verified token's ``sub``, else the peer ID); ``claims`` are the verified
    token claims; ``obligations`` are what the last policy decision asked the
    enforcement point to honour. Build one with keyword arguments; derive new
    ones with :meth:`evolve`.
    """

    principal: str | None = None
    peer_id: str | None = None
    claims: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze, repr=_redacted_claims)
    scopes: frozenset[str] = attrs.field(factory=frozenset, converter=_scopes)
    correlation: CorrelationContext | None = None
    obligations: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)

    @classmethod
    def anonymous(cls) -> SecurityContext:
        """No peer identity, no claims: the context outside any request."""
        return cls()

    @property
    def authenticated(self) -> bool:
        return self.principal is not None or self.peer_id is not None

    def evolve(self, **changes: Any) -> SecurityContext:
        return attrs.evolve(self, **changes)


_ANONYMOUS = SecurityContext.anonymous()

_current: contextvars.ContextVar[SecurityContext] = contextvars.ContextVar(
    "meshsec_security_context", default=_ANONYMOUS
)


def current_security_context() -> SecurityContext:
    """The caller of the running request; anonymous outside any request."""
    return _current.get()


@contextlib.contextmanager
def run_as(context: SecurityContext) -> Iterator[SecurityContext]:
    """Run the block as ``context``'s caller; restores the previous caller after.

    Works for sync code and inside asyncio tasks (each task copies the
    context at creation, so concurrent requests never see each other).
    """
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
