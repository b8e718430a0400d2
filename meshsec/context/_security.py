"""The current caller of the running request, held in a ContextVar."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

import attrs

from meshsec._binding import ScopedBinding
from meshsec.correlation import CorrelationContext
from meshsec.errors import ConfigError

# Claims come from verified tokens and are small; a deeper structure is refused
# with a typed error rather than a RecursionError.
_MAX_DEPTH = 32


def _freeze(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError("claims and obligations must be mappings")
    return MappingProxyType({k: _deep_freeze(v, 1) for k, v in value.items()})


def _deep_freeze(value: object, depth: int) -> object:
    # Nested lists and dicts are frozen too: a handler appending to
    # ctx.claims["roles"] must not grant itself (or a later request sharing
    # the same claims object, e.g. through a token cache) a new role.
    if depth > _MAX_DEPTH:
        raise ConfigError(f"claims nest deeper than {_MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return MappingProxyType({k: _deep_freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_deep_freeze(v, depth + 1) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def _scopes(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        # A lone "a b" string is an OAuth scope claim; never split it into letters.
        return frozenset(value.split())
    scopes = frozenset(value)
    if not all(isinstance(scope, str) for scope in scopes):
        raise ConfigError("scopes must be strings")
    return scopes


def _identity(value: object) -> str | None:
    """A SPIFFE ID object (anything whose text is a ``spiffe://`` URI) as its string.

    ``meshsec.identity`` sits above this package, so its ``SpiffeId`` is
    recognised by its text. Anything else is passed on for the validator
    to judge (and refuse, unless it is a non-empty string or None).
    """
    if value is None or isinstance(value, str):
        return value
    if type(value).__str__ is not object.__str__:
        try:
            text = str(value)
        except Exception:  # noqa: BLE001  a broken __str__ is just not an identity
            text = ""
        if isinstance(text, str) and text.startswith("spiffe://"):
            return text
    return value  # type: ignore[return-value]  # refused by _check_identity


def _check_identity(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    # "" is not an identity: counting it as authenticated would let a token
    # with an empty "sub" pass an authenticated-only check.
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{attribute.name} must be a non-empty string or None")


def _check_correlation(
    _: object, __: attrs.Attribute[CorrelationContext | None], value: object
) -> None:
    if value is not None and not isinstance(value, CorrelationContext):
        raise ConfigError("correlation must be a CorrelationContext or None")


def _redacted_claims(value: Mapping[str, Any]) -> str:
    # Claim names help debugging; claim values may be personal data.
    return "{" + ", ".join(f"{k!r}: ..." for k in sorted(value, key=str)) + "}"


@attrs.frozen(kw_only=True)
class SecurityContext:
    """Who is calling, as established by the integrations for one request.

    ``peer_id`` is the SPIFFE ID (string form) proven by the peer's mTLS
    certificate, or None (a ``SpiffeId`` object is accepted and kept as its
    string); ``principal`` is the subject the call runs as (a
    verified token's ``sub``, else the peer ID); ``claims`` are the verified
    token claims; ``obligations`` are what the last policy decision asked the
    enforcement point to honour. Build one with keyword arguments; derive new
    ones with :meth:`evolve`.
    """

    principal: str | None = attrs.field(
        default=None, converter=_identity, validator=_check_identity
    )
    peer_id: str | None = attrs.field(default=None, converter=_identity, validator=_check_identity)
    claims: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze, repr=_redacted_claims)
    scopes: frozenset[str] = attrs.field(factory=frozenset, converter=_scopes)
    correlation: CorrelationContext | None = attrs.field(default=None, validator=_check_correlation)
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


_binding = ScopedBinding(_current, default=_ANONYMOUS)


def current_security_context() -> SecurityContext:
    """The caller of the running request; anonymous outside any request."""
    return _current.get()


class run_as:  # noqa: N801  used like a function: ``with run_as(ctx):``
    """Run the block as ``context``'s caller; restores the previous caller after.

    A ``with`` and an ``async with`` block both work. Each asyncio task
    copies the context at creation and each thread has its own, so
    concurrent requests never see each other's caller. The previous caller is
    restored by token, also when the block raises, so blocks nest.

    Raises :class:`~meshsec.errors.ConfigError` when ``context`` is not a
    :class:`SecurityContext`.
    """

    def __init__(self, context: SecurityContext) -> None:
        if not isinstance(context, SecurityContext):
            # A dict or a principal string here would make every later read fail
            # (or worse, be trusted); refuse it before anything is bound.
            raise ConfigError("run_as() needs a SecurityContext")
        self._context = context

    def __enter__(self) -> SecurityContext:
        _binding.push(self, self._context)
        return self._context

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _binding.pop(self)

    async def __aenter__(self) -> SecurityContext:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
