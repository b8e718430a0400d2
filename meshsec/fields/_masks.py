"""Masking operators: irreversible transforms that leave a safe view of a value.

Every operator takes any JSON value and returns a new one; non-string
values are masked through their text form (``4111111111111111`` becomes
``"************1111"`` under ``last4``). Operators work on grapheme clusters
(see ``_graphemes``), never on bytes or UTF-16 units.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Final

from meshsec.errors import ConfigError
from meshsec.fields._b64 import b64e
from meshsec.fields._errors import UnsupportedValueError
from meshsec.fields._graphemes import graphemes
from meshsec.secret import REDACTED, Secret

__all__ = [
    "MASK_CHAR",
    "Masker",
    "mask_email",
    "mask_fixed",
    "mask_keep_first",
    "mask_keep_last",
    "mask_keyed_hash",
    "mask_null",
    "mask_redact",
    "parse_mask",
]

Masker = Callable[[object], object]
MASK_CHAR: Final = "*"
# "last4", "last:4" and the spelling "keep_last:4" / "keep_last_4".
_KEEP: Final = re.compile(r"(?:keep_)?(first|last)(?::|_|)(\d{1,3})")
# What mask_email shows of a domain: dot-separated labels of letters, digits
# and '-' (IDN letters too). Anything else ("b.com and card 4111 ...") is not
# a domain, and showing it would leak the rest of the value.
_DOMAIN: Final = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)*[^\W_](?:[\w-]*[^\W_])?")
_LOCAL: Final = re.compile(r"\S+")
# Other spellings of the keyed-hash operator (the issue calls it "keyed hash").
_ALIASES: Final = {"keyed_hash": "hash", "hmac": "hash"}


def mask_redact(value: object) -> str:
    """``[REDACTED]``: nothing of the value, not even its length, survives."""
    return REDACTED


def mask_null(value: object) -> None:
    """``None``."""


def mask_fixed(replacement: str) -> Masker:
    """Always ``replacement``."""
    if not isinstance(replacement, str):
        raise ConfigError("a fixed mask replacement must be a string")

    def fixed(value: object) -> str:
        return replacement

    return fixed


def mask_keep_first(count: int) -> Masker:
    """Keep the first ``count`` characters, star the rest (at most half are ever kept).

    Numbers are masked through their text; lists and dicts are redacted;
    ``None`` stays ``None``.
    """
    return _keeper(count, first=True)


def mask_keep_last(count: int) -> Masker:
    """Keep the last ``count`` characters, star the rest (at most half are ever kept)."""
    return _keeper(count, first=False)


def _keeper(count: int, *, first: bool) -> Masker:
    if type(count) is not int or count < 0:
        raise ConfigError("a keep-first/last mask needs a count >= 0")

    def keep(value: object) -> str | None:
        if value is None or isinstance(value, list | dict):
            return None if value is None else REDACTED
        clusters = graphemes(_text(value))
        # Keeping all of a short value would reveal it: keep at most half.
        kept = min(count, len(clusters) // 2)
        hidden = MASK_CHAR * (len(clusters) - kept)
        if kept == 0:
            return hidden
        if first:
            return "".join(clusters[:kept]) + hidden
        return hidden + "".join(clusters[-kept:])

    return keep


def mask_email(value: object) -> str | None:
    """``j***@example.com``: first character of the local part and the domain.

    A value that is not ``local@domain`` is redacted entirely; the local
    part's length is never shown. ``None`` stays ``None``.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return REDACTED
    text = value
    local, at, domain = text.rpartition("@")
    if not at or _LOCAL.fullmatch(local) is None or _DOMAIN.fullmatch(domain) is None:
        return REDACTED
    head = graphemes(local)
    shown = head[0] if len(head) > 1 and head[0] != MASK_CHAR else ""  # idempotent
    return f"{shown}***@{domain}"


def mask_keyed_hash(key: bytes | str | Secret[bytes] | Secret[str], *, size: int = 16) -> Masker:
    """A keyed HMAC-SHA256 pseudonym (never a bare hash, which a dictionary reverses).

    ``key`` is bytes (at least 16, random; not a password string); ConfigError otherwise.
    """
    raw = key.reveal() if isinstance(key, Secret) else key
    if not isinstance(raw, bytes) or len(raw) < 16:
        raise ConfigError("a keyed-hash mask needs a key of at least 16 bytes")
    if not 8 <= size <= 32:
        raise ConfigError("a keyed-hash mask size is 8 to 32 bytes")

    def keyed_hash(value: object) -> str:
        tag = hmac.new(raw, _canonical(value), hashlib.sha256).digest()
        return "hmac:" + b64e(tag[:size])

    return keyed_hash


def parse_mask(
    spec: str,
    *,
    custom: Mapping[str, Masker] | None = None,
    hash_key: Callable[[], bytes] | None = None,
) -> Masker:
    """The operator named by ``spec``: ``redact``, ``null``, ``email``, ``hash``
    (also ``keyed_hash``), ``first:N``/``firstN``/``keep_first:N``,
    ``last:N``/``lastN``/``keep_last:N``, ``fixed:TEXT`` or a name in ``custom``.

    ``hash`` needs ``hash_key`` (a callable giving the HMAC key). Raises
    ConfigError for an unknown operator.
    """
    if not isinstance(spec, str):
        raise ConfigError("a mask operator is a string such as 'last4' or 'email'")
    if custom and spec in custom:
        return custom[spec]
    builtin = {"redact": mask_redact, "null": mask_null, "email": mask_email}
    if spec in builtin:
        return builtin[spec]
    spec = _ALIASES.get(spec, spec)
    if spec.startswith("fixed:"):
        return mask_fixed(spec[len("fixed:") :])
    keep = _KEEP.fullmatch(spec)
    if keep:
        count = int(keep.group(2))
        return mask_keep_first(count) if keep.group(1) == "first" else mask_keep_last(count)
    if spec == "hash" and hash_key is not None:
        return _lazy_hash(hash_key)
    raise ConfigError(f"unknown mask operator {spec!r}")


def canonical_mask(spec: str) -> str:
    """The usual spelling of an operator alias (``keep_last:4`` -> ``last:4``,
    ``keyed_hash`` -> ``hash``); any other ``spec`` unchanged."""
    if spec in _ALIASES:
        return _ALIASES[spec]
    keep = _KEEP.fullmatch(spec)
    if keep and (spec.startswith("keep_") or "_" in spec):
        return f"{keep.group(1)}:{keep.group(2)}"
    return spec


def _lazy_hash(hash_key: Callable[[], bytes]) -> Masker:
    def keyed_hash(value: object) -> object:
        return mask_keyed_hash(hash_key())(value)

    return keyed_hash


def _text(value: object) -> str:
    try:
        if isinstance(value, str):
            return value
        if value is None or isinstance(value, bool | int | float):
            return json.dumps(value)
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        # Ints past Python's 4300-digit limit, cycles, absurd nesting: nothing
        # safe to show, and the message must not quote the value.
        raise UnsupportedValueError("this value cannot be masked: it has no JSON text") from None


def _canonical(value: object) -> bytes:
    tag = b"s" if isinstance(value, str) else b"j"
    return tag + _text(value).encode("utf-8", "surrogatepass")
