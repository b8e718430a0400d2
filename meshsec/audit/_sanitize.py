"""Make every value safe before it reaches a sink: escape, bound, redact.

Escaping defends against log injection (CWE-117): CR, LF and other control
characters, ANSI escape sequences (ESC, 8-bit CSI), Unicode line separators,
bidirectional overrides ("Trojan Source", CVE-2021-42574) and lone surrogates
become visible ``\\xNN`` / ``\\uNNNN`` text, so a log viewer or terminal reading
the message text never sees them raw. Redaction replaces secret-looking
attribute keys and JWT / PEM-private-key values with ``[REDACTED]``.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from meshsec.audit._errors import AuditEventError
from meshsec.secret import REDACTED, Secret

JsonScalar = str | int | float | bool | None

MAX_TEXT: Final = 512
MAX_NAME: Final = 128
MAX_KEY: Final = 64
MAX_VALUE: Final = 256
MAX_ATTRIBUTES: Final = 32
DROPPED_KEY: Final = "attributes_dropped"
_ELLIPSIS: Final = "..."
_INT_BOUND: Final = 2**63

EMPTY: Final[Mapping[str, JsonScalar]] = MappingProxyType({})


def _escape_map() -> dict[str, str]:
    table = {chr(cp): f"\\x{cp:02x}" for cp in [*range(0x20), *range(0x7F, 0xA0)]}
    # Line/paragraph separators, bidi controls and marks, BOM, lone surrogates.
    wide = [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F)]
    wide += [*range(0x2066, 0x206A), 0xFEFF, *range(0xD800, 0xE000)]
    table.update({chr(cp): f"\\u{cp:04x}" for cp in wide})
    return table


_ESCAPES: Final = _escape_map()
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
# A JWS/JWE compact serialization starts with a base64url JSON header: "eyJ".
_JWT: Final = re.compile(r"eyJ[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+")
# Any type header ("RSA", "ENCRYPTED", "OPENSSH", "PGP ... BLOCK"), in any
# case and with any spacing: the key material after a sloppy header is just as
# secret. PuTTY's .ppk files carry theirs after "Private-Lines:".
_PEM_PRIVATE: Final = re.compile(
    r"(?i:-{3,}\s*BEGIN\b[^-]{0,64}?PRIVATE\s*KEY)|\bPrivate-Lines:\s*\d"
)
_NOT_ALNUM: Final = re.compile(r"[\W_]+")
# HTTP credentials (RFC 6750 Bearer, RFC 7617 Basic) and userinfo in URLs.
_HTTP_CREDENTIAL: Final = re.compile(r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_USERINFO: Final = re.compile(r"://[^/\s@:]*:[^/\s@]*@")

SECRET_WORDS: Final = (
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "authorization",
    "cookie",
    "key",
    "credential",
    "private",
    "bearer",
    "session",  # a session ID is a bearer credential
)
# Names that contain a secret word but identify, never carry, a secret:
# key-rotation events must still say which key they are about.
SAFE_KEYS: Final = frozenset(
    {
        "kid",
        "key_id",
        "keyid",
        "key_type",
        "key_version",
        "key_alg",
        "key_algorithm",
        "key_size",
        "key_use",
        "key_ops",
        "key_thumbprint",
        "key_fingerprint",
        "public_key_thumbprint",
        "public_key_fingerprint",
        "token_type",
        "token_id",
        "token_use",
    }
)


def escape(text: str) -> str:
    """Replace every unsafe character by visible escape text (idempotent)."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: _ESCAPES[m.group()], text)


def looks_secret_value(text: str) -> bool:
    """True for text carrying a JWT, a PEM private key, an HTTP Bearer/Basic
    credential or a password in a URL, anywhere in it."""
    return (
        ("eyJ" in text and _JWT.search(text) is not None)
        or (("---" in text or "Private-Lines" in text) and _PEM_PRIVATE.search(text) is not None)
        or ("@" in text and _URL_USERINFO.search(text) is not None)
        or _HTTP_CREDENTIAL.search(text) is not None
    )


@functools.lru_cache(maxsize=1024)  # names come from code: a small vocabulary
def looks_secret_key(name: str) -> bool:
    """True for attribute names that look like they hold a secret.

    Separators and control characters are ignored, so ``pass\nword`` or
    ``x-Api.Key`` cannot slip past the word list.
    """
    if not name.isascii():
        # Fullwidth and other compatibility forms (U+FF54 for "t", ...) fold to ASCII.
        name = unicodedata.normalize("NFKC", name)
    lowered = name.lower()
    if lowered.replace("-", "_").replace(".", "_") in SAFE_KEYS:
        return False
    compact = _NOT_ALNUM.sub("", lowered)
    return any(word in lowered or word in compact for word in SECRET_WORDS)


def clean_text(value: object, limit: int = MAX_TEXT) -> str:
    """Redact, escape and bound one text value."""
    if isinstance(value, Secret):
        return REDACTED
    if type(value) is str:
        text = value
    else:
        # A str subclass becomes a plain str (its own lower(), __eq__ or
        # __hash__ must not steer the checks below or the name caches).
        text = str.__str__(value) if isinstance(value, str) else str(value)
    cut = len(text) > limit
    if cut:
        # Bound the work first: the regexes below then see at most ``limit``
        # characters, and whatever lies beyond the cut never reaches a sink.
        text = text[:limit]
    if looks_secret_value(text):
        return REDACTED
    text = escape(text)
    if cut or len(text) > limit:
        text = text[: limit - len(_ELLIPSIS)] + _ELLIPSIS
    return text


def clean_optional(value: object, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else clean_text(value, limit)


def clean_value(value: object) -> JsonScalar:
    """An attribute value as a bounded, escaped JSON scalar."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if -_INT_BOUND <= value < _INT_BOUND else "<int out of range>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str | Secret):
        return clean_text(value, MAX_VALUE)
    # Never str() an arbitrary object: its text could be a key or a token.
    return f"<{type(value).__name__}>"


def clean_attributes(attributes: Mapping[str, object] | None) -> Mapping[str, JsonScalar]:
    """A frozen, bounded, redacted copy of an attribute map."""
    if attributes is None:
        return EMPTY
    if not isinstance(attributes, Mapping):
        raise AuditEventError("audit attributes must be a mapping of names to JSON scalars")
    total = len(attributes)
    keep = MAX_ATTRIBUTES if total <= MAX_ATTRIBUTES else MAX_ATTRIBUTES - 1
    cleaned: dict[str, JsonScalar] = {}
    for key, value in itertools.islice(attributes.items(), keep):
        name = clean_text(key, MAX_KEY)
        # Judge the raw name too: escaping could split a word ("pass\nword").
        raw = key[:MAX_KEY] if isinstance(key, str) else name
        secret = looks_secret_key(name) or looks_secret_key(raw)
        cleaned[name] = REDACTED if secret else clean_value(value)
    if total > keep:
        cleaned[DROPPED_KEY] = total - keep
    return MappingProxyType(cleaned)
