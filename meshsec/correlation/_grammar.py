"""Validators for the values that travel in correlation headers.

Everything here is a pure function over strings with precompiled patterns:
no logging (OpenTelemetry's own parsers log rejected values raw, which is a
log-injection vector), no exceptions for bad input (the W3C specifications say
to fail soft: start a new trace, drop the bad entry).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote

# A correlation ID is echoed into logs, audit events and other services'
# headers, so only a small charset and a bounded length ever pass.
CORRELATION_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
TRACE_ID_RE = re.compile(r"[0-9a-f]{32}")
SPAN_ID_RE = re.compile(r"[0-9a-f]{16}")
ZERO_TRACE_ID = "0" * 32
ZERO_SPAN_ID = "0" * 16

# W3C Trace Context section 3.2.2: version-traceparent for version 00 is
# exactly 55 characters, all lowercase hex; later versions may append fields
# after a dash (section 4.3, "versioning of traceparent").
_TRACEPARENT_RE = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")

# Flags meshsec forwards: sampled (Level 1) and random (Level 2). Trace
# Context 3.2.2.5: other bits are not defined and vendors MUST set them to 0.
KNOWN_FLAGS = 0x03
# Longer values are not parsed: a future version may append fields, but not
# kilobytes of them (OpenTelemetry applies the same cap).
TRACEPARENT_MAX_LENGTH = 512

# W3C Trace Context 3.3.1: tracestate keys and values.
_TS_KEY = (
    r"(?:[a-z][a-z0-9_\-*/]{0,255}"
    r"|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})"
)
_TS_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_TS_MEMBER_RE = re.compile(f"({_TS_KEY})=({_TS_VALUE})")
TRACESTATE_MAX_MEMBERS = 32
TRACESTATE_MAX_LENGTH = 8192

# W3C Baggage: key is an RFC 7230 token, value is baggage-octets.
BAGGAGE_KEY_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAGGAGE_VALUE_RE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
# Values made only of these need no percent-encoding on the way out.
_PLAIN_VALUE_RE = re.compile(r"[A-Za-z0-9_.~\-]*")
BAGGAGE_MAX_ENTRIES = 180
BAGGAGE_MAX_BYTES = 8192
BAGGAGE_MAX_ENTRY_BYTES = 4096
# Anything longer is not parsed at all: bounded work per request.
_BAGGAGE_MAX_RAW = 8 * BAGGAGE_MAX_BYTES

_OWS = " \t"

# Substrings that make a baggage key look like it carries a credential
# ("apikey", "api_key", "authorization" are covered by "key" and "auth").
# Over-matching ("author", "monkey") only withholds an entry, never leaks one.
_NOT_ALNUM = re.compile(r"[\W_]+")
_SECRET_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "auth",
    "cookie",
    "session",
    "key",
    "credential",
    "private",
)


def valid_correlation_id(value: str) -> bool:
    return CORRELATION_ID_RE.fullmatch(value) is not None


@functools.lru_cache(maxsize=1024)
def looks_secret(key: str) -> bool:
    """True when a baggage key names something that must never leave the process.

    Cached: real traffic uses a small vocabulary of keys, and the cache is
    bounded, so hostile keys only cost a miss.
    """
    lowered = key.lower()
    if "%" in lowered:
        # Keys are tokens and may hold "%"; some parsers (OpenTelemetry
        # Python) percent-decode them, so "tok%65n" must count as "token".
        lowered += " " + unquote(lowered, errors="replace").lower()
    # Separators do not hide a word: "pass_word", "Sec.Ret", "pass-word".
    lowered += " " + _NOT_ALNUM.sub("", lowered)
    return any(word in lowered for word in _SECRET_WORDS)


def parse_traceparent(value: str) -> tuple[str, str, int] | None:
    """(trace_id, span_id, flags) of a valid traceparent, else None (start a new trace).

    Follows W3C Trace Context section 4.3: version ``ff`` is invalid; version
    ``00`` has exactly four fields; a higher version is parsed by its first
    four fields provided a dash (or the end) follows the flags.
    """
    if len(value) > TRACEPARENT_MAX_LENGTH:
        return None
    match = _TRACEPARENT_RE.fullmatch(value.strip(_OWS))
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == ZERO_TRACE_ID or span_id == ZERO_SPAN_ID:
        return None
    return trace_id, span_id, int(flags, 16) & KNOWN_FLAGS


def parse_tracestate(value: str) -> str | None:
    """The canonical form of a valid tracestate ('' when empty), else None.

    Canonical: list members stripped of optional whitespace, empty members
    removed, joined by ``,``. An invalid member, a duplicate key, more than
    32 members or an oversize header invalidates the whole header, which the
    caller then drops (Trace Context 3.3.1.1 lets vendors discard it).
    """
    if len(value) > TRACESTATE_MAX_LENGTH:
        return None
    members: list[str] = []
    keys: set[str] = set()
    for raw in value.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        match = _TS_MEMBER_RE.fullmatch(member)
        if match is None or match.group(1) in keys:
            return None
        keys.add(match.group(1))
        members.append(member)
        if len(members) > TRACESTATE_MAX_MEMBERS:
            return None  # stop at once: no need to parse the other 2,000 members
    return ",".join(members)


def parse_baggage(value: str) -> tuple[dict[str, str], str | None, int, int]:
    """Decode a baggage header into (entries, header, dropped_invalid, dropped_secret).

    ``header`` is the outgoing form of ``entries`` (None when it has to be
    rebuilt with :func:`encode_baggage`).

    Each list member is ``key=value`` with optional properties after ``;``
    (properties are not kept). A member with a bad key, a bad value, a value
    that is not UTF-8 after percent-decoding, or beyond the W3C limits (180
    members, 8192 bytes) is dropped; members whose keys look secret are
    dropped and counted separately. Later duplicates replace earlier ones.
    """
    if len(value) > _BAGGAGE_MAX_RAW:
        return {}, "", 1, 0
    entries: dict[str, str] = {}
    members: dict[str, str] = {}
    dropped = secret = 0
    used = 0
    for raw in value.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        used += len(member) + (1 if used else 0)
        if used > BAGGAGE_MAX_BYTES or len(entries) >= BAGGAGE_MAX_ENTRIES:
            dropped += 1
            continue
        # The per-entry cap (OpenTelemetry's too) applies on input as on output:
        # an entry meshsec keeps must never be one OpenTelemetry rejects and logs.
        item = _parse_member(member) if len(member) <= BAGGAGE_MAX_ENTRY_BYTES else None
        if item is None:
            dropped += 1
        elif looks_secret(item[0]):
            secret += 1
        else:
            entries[item[0]] = item[1]
            members[item[0]] = item[2]
    header = ",".join(members.values())
    return entries, (header if len(header) <= BAGGAGE_MAX_BYTES else None), dropped, secret


def _parse_member(member: str) -> tuple[str, str, str] | None:
    """(key, decoded value, outgoing member) of one list member, or None."""
    pair = member.split(";", 1)[0]
    key, sep, raw_value = pair.partition("=")
    key, raw_value = key.strip(_OWS), raw_value.strip(_OWS)
    if not sep or BAGGAGE_KEY_RE.fullmatch(key) is None:
        return None
    if _BAGGAGE_VALUE_RE.fullmatch(raw_value) is None:
        return None
    decoded = raw_value
    if "%" in raw_value:
        try:
            # Percent-encoding per W3C Baggage 3.2.1.1; "+" is a literal plus.
            decoded = unquote(raw_value, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            return None
    # The validated raw form goes out again unless it holds "+", which some
    # parsers (OpenTelemetry Python among them) decode as a space.
    outgoing = raw_value if "+" not in raw_value else _encode_value(decoded)
    if outgoing is None or len(key) + 1 + len(outgoing) > BAGGAGE_MAX_ENTRY_BYTES:
        return None
    return key, decoded, f"{key}={outgoing}"


def encode_baggage(entries: Mapping[str, str]) -> str:
    """The baggage header for entries: secret-looking keys withheld, W3C limits applied.

    Values are percent-encoded (also ``+`` and space, so parsers that decode
    ``+`` as a space read the same value); the output is printable ASCII only.
    """
    parts: list[str] = []
    used = 0
    for key, value in entries.items():
        if BAGGAGE_KEY_RE.fullmatch(key) is None or looks_secret(key):
            continue
        encoded = _encode_value(value)
        if encoded is None:
            continue
        member = f"{key}={encoded}"
        cost = len(member) + (1 if parts else 0)
        if (
            len(member) > BAGGAGE_MAX_ENTRY_BYTES
            or used + cost > BAGGAGE_MAX_BYTES
            or len(parts) >= BAGGAGE_MAX_ENTRIES
        ):
            continue
        parts.append(member)
        used += cost
    return ",".join(parts)


def _encode_value(value: str) -> str | None:
    if _PLAIN_VALUE_RE.fullmatch(value) is not None:
        return value
    try:
        return quote(value, safe="", encoding="utf-8", errors="strict")
    except UnicodeEncodeError:  # lone surrogates cannot be sent
        return None
