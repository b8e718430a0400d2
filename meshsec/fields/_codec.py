"""Typed, canonical byte encodings of JSON values and of record contexts.

A protected value must come back with its type (``7`` stays an int, ``"7"``
stays a string), so plaintexts carry a one-byte type tag: ``s`` for a string
(UTF-8, the fast path) and ``j`` for anything else as compact JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from meshsec.fields._errors import UnsupportedValueError

__all__ = [
    "MAX_INT_BITS",
    "JsonValue",
    "RecordContext",
    "canonical_context",
    "check_field",
    "check_json",
    "decode_value",
    "encode_value",
]

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
# A record context: a mapping of names to str, int, bool or None values.
RecordContext = Mapping[str, object]

_MAX_DEPTH: Final = 64
# Python refuses to print ints of more than 4300 digits (CVE-2020-10735);
# refuse them up front (14,000 bits is about 4,214 digits) with a typed error.
MAX_INT_BITS: Final = 14_000
_STR: Final = b"s"
_JSON: Final = b"j"
_CONTEXT_RULE: Final = "context must be a mapping of str names to str, int, bool or None"
_quote: Final[Callable[[str], str]] = json.encoder.encode_basestring_ascii


def check_field(field: object) -> None:
    """Field paths are strings; anything else is a caller bug, reported typed."""
    if not isinstance(field, str):
        raise UnsupportedValueError("the field path must be a string such as 'card.number'")


def encode_value(value: object, *, field: str) -> bytes:
    """The tagged plaintext of a JSON value; raises UnsupportedValueError naming ``field``."""
    if type(value) is str:
        return _STR + _utf8(value, field)
    check_json(value, field=field)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JSON + _utf8(text, field)


def decode_value(plaintext: bytes) -> JsonValue:
    """Inverse of :func:`encode_value`; raises ValueError on anything else."""
    tag, body = plaintext[:1], plaintext[1:]
    if tag == _STR:
        return body.decode("utf-8")
    if tag == _JSON:
        value: JsonValue = json.loads(body.decode("utf-8"))
        return value
    raise ValueError("unknown value tag")


def check_json(value: object, *, field: str, depth: int = 0) -> None:
    """Accept exactly the JSON types; tuples, bytes, sets, NaN and non-str keys are refused."""
    if depth > _MAX_DEPTH:
        raise UnsupportedValueError(
            f"value of field {field!r} nests deeper than {_MAX_DEPTH} levels", field=field
        )
    kind = type(value)
    if kind is float and not math.isfinite(value):  # type: ignore[arg-type]
        raise UnsupportedValueError(
            f"field {field!r} holds a non-finite float, which JSON cannot carry", field=field
        )
    if kind is int and value.bit_length() > MAX_INT_BITS:  # type: ignore[attr-defined]
        raise UnsupportedValueError(
            f"field {field!r} holds an int too large to encode", field=field
        )
    if kind in (str, int, float, bool, type(None)):
        return
    if kind is list:
        for item in value:  # type: ignore[attr-defined]
            check_json(item, field=field, depth=depth + 1)
        return
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise UnsupportedValueError(
                    f"field {field!r} holds a mapping with a non-string key", field=field
                )
            check_json(item, field=field, depth=depth + 1)
        return
    raise UnsupportedValueError(
        f"field {field!r} holds a {kind.__name__}; only str, int, float, bool, None, "
        "list and dict values can be protected",
        field=field,
    )


def canonical_context(context: RecordContext) -> bytes:
    """Canonical bytes of a record context: exactly ``json.dumps(context,
    sort_keys=True, ensure_ascii=True, separators=(",", ":"))``.

    Values are limited to str, int, bool and None so that every producer,
    in any language, encodes them identically (floats have no single
    canonical text). Built by hand because it runs on every encryption.
    """
    if not isinstance(context, Mapping):
        raise UnsupportedValueError(_CONTEXT_RULE)
    try:
        keys = sorted(context)
    except TypeError:
        raise UnsupportedValueError(_CONTEXT_RULE) from None
    parts = []
    for key in keys:
        value: Any = context[key]
        kind = type(value)
        if type(key) is not str:
            raise UnsupportedValueError(_CONTEXT_RULE)
        if kind is str:
            text = _quote(value if value.isascii() else _checked_text(value))
        elif kind is int and value.bit_length() <= MAX_INT_BITS:
            text = int.__repr__(value)
        elif kind is bool:
            text = "true" if value else "false"
        elif value is None:
            text = "null"
        else:
            raise UnsupportedValueError(_CONTEXT_RULE)
        name = key if key.isascii() else _checked_text(key)
        parts.append(f"{_quote(name)}:{text}")
    return ("{" + ",".join(parts) + "}").encode("ascii")


def _checked_text(text: str) -> str:
    # Called for non-ASCII text only. The ASCII escape of a lone surrogate
    # pair equals that of the real character ("\\ud83d\\ude00"): refuse lone
    # surrogates so that no two contexts share one canonical form.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedValueError(_CONTEXT_RULE + " (no lone surrogates)") from None
    return text


def _utf8(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot round-trip through UTF-8.
        raise UnsupportedValueError(
            f"field {field!r} holds a string with a lone surrogate", field=field
        ) from None
