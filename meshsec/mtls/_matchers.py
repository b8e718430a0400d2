"""Peer matchers: which SPIFFE IDs one side of a connection accepts.

A matcher is any callable ``SpiffeId -> bool``. Only an exact ``True`` admits
a peer: a matcher that raises, or returns anything else, refuses (fail
closed).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from meshsec.errors import ConfigError
from meshsec.identity import InvalidSpiffeId, SpiffeId

Matcher = Callable[[SpiffeId], bool]


def _to_id(value: SpiffeId | str) -> SpiffeId:
    if isinstance(value, SpiffeId):
        return value
    try:
        return SpiffeId.parse(value)
    except InvalidSpiffeId as exc:
        raise ConfigError(f"allow_id needs SPIFFE IDs: {exc.message}") from None


@attrs.frozen
class _AllowIds:
    ids: frozenset[SpiffeId]

    def __call__(self, peer: object) -> bool:
        return isinstance(peer, SpiffeId) and peer in self.ids

    def __repr__(self) -> str:
        return f"allow_id({', '.join(sorted(repr(str(i)) for i in self.ids))})"


@attrs.frozen
class _AllowTrustDomain:
    trust_domain: str

    def __call__(self, peer: object) -> bool:
        # Only a real SpiffeId: a string or a look-alike object refuses (fail closed).
        return isinstance(peer, SpiffeId) and peer.trust_domain == self.trust_domain

    def __repr__(self) -> str:
        return f"allow_trust_domain({self.trust_domain!r})"


@attrs.frozen
class _AllowPathPrefix:
    segments: tuple[str, ...]
    trust_domain: str | None
    children_only: bool = False

    def __call__(self, peer: object) -> bool:
        if not isinstance(peer, SpiffeId):
            return False
        if self.trust_domain is not None and peer.trust_domain != self.trust_domain:
            return False
        if self.children_only and len(peer.segments) <= len(self.segments):
            return False
        return peer.segments[: len(self.segments)] == self.segments

    def __repr__(self) -> str:
        slash = "/" if self.children_only else ""
        return f"allow_path_prefix({'/' + '/'.join(self.segments) + slash!r})"


@attrs.frozen
class _AllowAnyOf:
    matchers: tuple[Matcher, ...]

    def __call__(self, peer: SpiffeId) -> bool:
        return any(matches(m, peer) for m in self.matchers)

    def __repr__(self) -> str:
        return f"allow_any_of({', '.join(repr(m) for m in self.matchers)})"


def allow_id(*ids: SpiffeId | str) -> Matcher:
    """Accept exactly these SPIFFE IDs. Raises ConfigError for an invalid ID."""
    if not ids:
        raise ConfigError("allow_id needs at least one SPIFFE ID")
    return _AllowIds(frozenset(_to_id(i) for i in ids))


def _trust_domain_name(trust_domain: str) -> str:
    if isinstance(trust_domain, str) and trust_domain.startswith("spiffe://"):
        # The spec's other spelling of a trust domain: spiffe://<td>, no path.
        parsed = SpiffeId.parse(trust_domain)
        if not parsed.is_trust_domain_id:
            raise InvalidSpiffeId("a trust domain is spiffe://<td> with no path")
        return parsed.trust_domain
    return SpiffeId.for_trust_domain(trust_domain).trust_domain


def allow_trust_domain(trust_domain: str) -> Matcher:
    """Accept every workload of one trust domain (``example.org`` or ``spiffe://example.org``)."""
    try:
        return _AllowTrustDomain(_trust_domain_name(trust_domain))
    except InvalidSpiffeId as exc:
        raise ConfigError(f"allow_trust_domain: {exc.message}") from None


def allow_path_prefix(prefix: str, *, trust_domain: str | None = None) -> Matcher:
    """Accept IDs whose path starts with ``prefix`` on a segment boundary.

    ``allow_path_prefix("/ns/prod")`` accepts ``/ns/prod`` and ``/ns/prod/sa/x``
    but not ``/ns/production``; with a trailing slash, ``"/ns/prod/"`` accepts
    only the IDs below ``/ns/prod`` (as a string prefix would). ``trust_domain=``
    narrows it further.
    """
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigError("allow_path_prefix needs a path starting with '/'")
    children_only = len(prefix) > 1 and prefix.endswith("/") and not prefix.endswith("//")
    if children_only:
        prefix = prefix[:-1]
    try:
        probe = SpiffeId.parse(f"spiffe://{trust_domain or 'example.org'}{prefix}")
    except InvalidSpiffeId as exc:
        raise ConfigError(f"allow_path_prefix needs a SPIFFE ID path: {exc.message}") from None
    if not probe.segments:
        raise ConfigError("allow_path_prefix needs a non-empty path; use allow_trust_domain")
    return _AllowPathPrefix(probe.segments, trust_domain and probe.trust_domain, children_only)


def allow_any_of(*matchers: Matcher) -> Matcher:
    """Accept a peer that any of the matchers accepts."""
    if not matchers or not all(callable(m) for m in matchers):
        raise ConfigError("allow_any_of needs one or more matchers")
    return _AllowAnyOf(matchers)


def matches(matcher: Matcher, peer: SpiffeId) -> bool:
    """Apply a matcher, failing closed: only an exact True admits."""
    try:
        return matcher(peer) is True
    except Exception:  # noqa: BLE001  a broken matcher must refuse, never admit
        return False
