"""The request shape every authorizer decides on: subject, action, resource, context."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from meshsec.context import SecurityContext
from meshsec.policy._errors import PolicyConfigError

_MAX_DEPTH = 32


def deep_freeze(value: Any, depth: int = 0) -> Any:
    """Read-only copy: mappings become mapping proxies, lists tuples, sets frozensets.

    Requests are immutable all the way down, so a decision (and its cache
    entry) can never be invalidated by someone mutating a nested list later.
    """
    if depth > _MAX_DEPTH:
        raise PolicyConfigError(f"request attributes nest deeper than {_MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return MappingProxyType({k: deep_freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(deep_freeze(v, depth + 1) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(deep_freeze(v, depth + 1) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain JSON-shaped data (dicts and lists) from frozen request data."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((thaw(v) for v in value), key=repr)
    return value


def _freeze(value: Mapping[str, Any]) -> Mapping[str, Any]:
    frozen: Mapping[str, Any] = deep_freeze(dict(value))
    return frozen


def _scopes(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        # A lone "a b" string is an OAuth scope claim; never split it into letters.
        return frozenset(value.split())
    return frozenset(value)


def _redacted(value: Mapping[str, Any]) -> str:
    # Attribute names help debugging; values may be personal data.
    return "{" + ", ".join(f"{k!r}: ..." for k in sorted(value)) + "}"


def _text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # A non-string here would otherwise surface as a TypeError deep inside
    # matching; the engine turns this typed error into a denial instead.
    if not isinstance(value, str):
        raise PolicyConfigError(f"{attribute.name} must be a string")


def _optional_text(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _text(instance, attribute, value)


@attrs.frozen(kw_only=True)
class Subject:
    """Who asks: the principal, the mTLS peer ID, verified claims and scopes."""

    principal: str | None = attrs.field(default=None, validator=_optional_text)
    peer_id: str | None = attrs.field(default=None, validator=_optional_text)
    claims: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze, repr=_redacted)
    scopes: frozenset[str] = attrs.field(factory=frozenset, converter=_scopes)
    # Computed once on first use by the engine (cache key, size check).
    _facts: Any = attrs.field(init=False, default=None, eq=False, repr=False)

    @classmethod
    def from_context(cls, context: SecurityContext) -> Subject:
        """The caller of a security context (principal falls back to the peer ID)."""
        return cls(
            principal=context.principal if context.principal is not None else context.peer_id,
            peer_id=context.peer_id,
            claims=context.claims,
            scopes=context.scopes,
        )


@attrs.frozen(kw_only=True)
class Resource:
    """What is acted on: ``type`` and ``id`` (matched as ``"type:id"``) and attributes.

    Resources of type ``http`` carry a request path as id; the engine
    normalizes it (:func:`normalize_path`) before matching.
    """

    type: str = attrs.field(validator=_text)
    id: str = attrs.field(validator=_text)
    attributes: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze, repr=_redacted)
    _facts: Any = attrs.field(init=False, default=None, eq=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Resource:
        """``"payment:123"`` -> type ``payment``, id ``123`` (split at the first colon)."""
        kind, sep, ident = text.partition(":")
        if not sep:
            raise PolicyConfigError("resource is not of the form 'type:id'")
        return cls(type=kind, id=ident)

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


SubjectLike = Subject | SecurityContext | str | Mapping[str, Any] | None
ResourceLike = Resource | str | Mapping[str, Any] | None

_NO_RESOURCE = Resource(type="", id="")
_ANONYMOUS = Subject()


def to_subject(value: SubjectLike) -> Subject:
    """Accept a Subject, a SecurityContext, a principal string or a mapping."""
    if isinstance(value, Subject):
        return value
    if value is None:
        return _ANONYMOUS
    if isinstance(value, str):
        return Subject(principal=value)
    if isinstance(value, SecurityContext):
        return Subject.from_context(value)
    if isinstance(value, Mapping):
        try:
            return Subject(**dict(value))
        except TypeError:
            raise PolicyConfigError(
                "subject mapping keys must be principal, peer_id, claims, scopes"
            ) from None
    raise PolicyConfigError(f"cannot use a {type(value).__name__} as a policy subject")


def to_resource(value: ResourceLike) -> Resource:
    """Accept a Resource, a ``"type:id"`` string, a mapping, or None (no resource)."""
    if isinstance(value, Resource):
        return value
    if value is None:
        return _NO_RESOURCE
    if isinstance(value, str):
        return Resource.parse(value)
    if isinstance(value, Mapping):
        try:
            return Resource(**dict(value))
        except TypeError:
            raise PolicyConfigError("resource mapping keys must be type, id, attributes") from None
    raise PolicyConfigError(f"cannot use a {type(value).__name__} as a policy resource")
