"""SPIFFE IDs: ``spiffe://<trust domain>/<path>``.

Validation follows the SPIFFE ID specification (spiffe/spiffe,
``standards/SPIFFE-ID.md``): the ``spiffe`` scheme, a non-empty lowercase
trust domain of ``[a-z0-9._-]`` (at most 255 bytes, section 2.3), path
segments of ``[A-Za-z0-9._-]`` that are neither empty nor ``.``/``..``, no
query, fragment, port or userinfo, no percent-encoding, and at most 2048
bytes in all. The restricted alphabets are what make two IDs equal exactly
when their strings are equal (the specification's security considerations),
so nothing here normalises input: anything else is refused.
"""

from __future__ import annotations

import re

import attrs

from meshsec.identity._errors import InvalidSpiffeId

__all__ = ["SpiffeId", "validate_trust_domain"]

SCHEME_PREFIX = "spiffe://"
MAX_ID_BYTES = 2048
MAX_TRUST_DOMAIN_BYTES = 255

_TRUST_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_SEGMENT_CHARS = _TRUST_DOMAIN_CHARS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Fast path for the common, valid case (ASCII-only classes; fullmatch, so no
# trailing-newline loophole). Anything it does not accept takes the slow path,
# which names the broken rule.
_VALID_SHAPE = re.compile(r"spiffe://([a-z0-9._-]+)((?:/[A-Za-z0-9._-]+)*)")


def validate_trust_domain(name: object) -> str:
    """Return ``name`` if it is a valid trust domain name; raise InvalidSpiffeId otherwise."""
    if not isinstance(name, str):
        raise InvalidSpiffeId("a trust domain name must be a string")
    if not name:
        raise InvalidSpiffeId("the trust domain name is empty")
    if len(name) > MAX_TRUST_DOMAIN_BYTES:
        raise InvalidSpiffeId("the trust domain name is longer than 255 bytes")
    if not set(name) <= _TRUST_DOMAIN_CHARS:
        # ':' (port), '@' (userinfo), uppercase and '%' all land here.
        raise InvalidSpiffeId(
            "the trust domain may hold only lowercase letters, digits, '.', '-' and '_'"
        )
    return name


def _validate_segment(segment: object) -> str:
    if not isinstance(segment, str):
        raise InvalidSpiffeId("a path segment must be a string")
    if not segment:
        raise InvalidSpiffeId("the path has an empty segment ('//' or a trailing '/')")
    if segment in {".", ".."}:
        raise InvalidSpiffeId("the path may not contain '.' or '..' segments")
    if not set(segment) <= _SEGMENT_CHARS:
        raise InvalidSpiffeId("path segments may hold only letters, digits, '.', '-' and '_'")
    return segment


def _validate_path(path: object) -> str:
    if not isinstance(path, str):
        raise InvalidSpiffeId("the path must be a string")
    if path == "":
        return path
    if not path.startswith("/"):
        raise InvalidSpiffeId("a non-empty path must start with '/'")
    for segment in path[1:].split("/"):
        _validate_segment(segment)
    return path


def _has_dot_segment(path: str) -> bool:
    return "/./" in path + "/" or "/../" in path + "/"


def _check_trust_domain(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    validate_trust_domain(value)


def _check_path(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    _validate_path(value)


@attrs.frozen(order=True, repr=False)
class SpiffeId:
    """A validated SPIFFE ID; equal exactly when the strings are equal.

    >>> sid = SpiffeId.parse("spiffe://example.org/ns/prod/sa/orders")
    >>> sid.trust_domain, sid.path
    ('example.org', '/ns/prod/sa/orders')
    >>> str(SpiffeId.from_parts("example.org", "ns", "prod"))
    'spiffe://example.org/ns/prod'
    """

    trust_domain: str = attrs.field(validator=_check_trust_domain)
    path: str = attrs.field(default="", validator=_check_path)

    def __attrs_post_init__(self) -> None:
        if len(str(self)) > MAX_ID_BYTES:
            raise InvalidSpiffeId("a SPIFFE ID may be at most 2048 bytes long")

    @classmethod
    def parse(cls, text: object) -> SpiffeId:
        """Parse ``spiffe://td/path``. Raises InvalidSpiffeId for anything else.

        The message names the rule that was broken, never the input itself.
        """
        if not isinstance(text, str):
            raise InvalidSpiffeId("a SPIFFE ID must be a string")
        shape = _VALID_SHAPE.fullmatch(text)
        if shape is not None and len(text) <= MAX_ID_BYTES:
            trust_domain, path = shape.groups()
            if len(trust_domain) <= MAX_TRUST_DOMAIN_BYTES and not _has_dot_segment(path):
                return cls._unchecked(trust_domain, path)
        if not text:
            raise InvalidSpiffeId("the SPIFFE ID is empty")
        if len(text) > MAX_ID_BYTES:
            raise InvalidSpiffeId("a SPIFFE ID may be at most 2048 bytes long")
        if not text.startswith(SCHEME_PREFIX):
            raise InvalidSpiffeId("a SPIFFE ID must start with 'spiffe://'")
        rest = text[len(SCHEME_PREFIX) :]
        trust_domain, slash, path = rest.partition("/")
        if not trust_domain:
            raise InvalidSpiffeId("the SPIFFE ID has no trust domain")
        # '?' and '#' are outside both alphabets, so queries and fragments fail here.
        validate_trust_domain(trust_domain)
        return cls._unchecked(trust_domain, _validate_path(slash + path))

    @classmethod
    def _unchecked(cls, trust_domain: str, path: str) -> SpiffeId:
        # Fast path for values validated just now (parse runs on every handshake).
        instance = object.__new__(cls)
        object.__setattr__(instance, "trust_domain", trust_domain)
        object.__setattr__(instance, "path", path)
        return instance

    @classmethod
    def from_parts(cls, trust_domain: str, *segments: str) -> SpiffeId:
        """Build an ID from a trust domain and path segments (no '/' inside a segment)."""
        for segment in segments:
            _validate_segment(segment)
        path = "".join("/" + segment for segment in segments)
        return cls(trust_domain, path)

    @classmethod
    def for_trust_domain(cls, trust_domain: str) -> SpiffeId:
        """The ID of the trust domain itself (``spiffe://td``, no path)."""
        return cls(trust_domain, "")

    @property
    def segments(self) -> tuple[str, ...]:
        """The path segments, in order (empty for a trust domain ID)."""
        return tuple(self.path[1:].split("/")) if self.path else ()

    @property
    def is_trust_domain_id(self) -> bool:
        """True for ``spiffe://td`` itself, which names the domain, not a workload."""
        return self.path == ""

    def is_member_of(self, trust_domain: str) -> bool:
        """True when this ID lies in ``trust_domain``."""
        return self.trust_domain == trust_domain

    def __str__(self) -> str:
        return f"{SCHEME_PREFIX}{self.trust_domain}{self.path}"

    def __repr__(self) -> str:
        return f"SpiffeId({str(self)!r})"
