"""DLP: find and redact sensitive values in nested structures, strings and logs.

Findings carry the path and the kind, never the value. Strings are
normalized first (see ``_normalize``) and then matched by the detectors in
``_detectors``; mapping values under secret-looking keys (``password``,
``api_key``, ...) are findings of kind ``secret`` even when they look tame.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from meshsec.fields._detectors import DETECTORS, FindingKind
from meshsec.fields._normalize import normalize, original_span

__all__ = ["DlpLogFilter", "Finding", "redact", "redact_text", "scan"]

_MAX_DEPTH: Final = 100
_MAX_ROUNDS: Final = 8
_SHORTEST: Final = 6  # "a@b.io"; nothing any detector reports is shorter
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# A mapping value is a secret when its key, lowercased with everything but
# letters removed, ends with one of these ("X-Api-Key", "db_password",
# "csrfToken", "AWS_SECRET_ACCESS_KEY"), whatever the value looks like.
_SECRET_KEY_ENDINGS: Final = (
    "password", "passwd", "pwd", "passphrase", "secret", "apikey", "token",
    "privatekey", "secretkey", "accesskey", "authorization", "cookie", "sessionid",
    "credentials", "credential",
)  # fmt: skip  # one word per cell reads as a list
_SECRET_KEY_EXCEPTIONS: Final = frozenset({"publickey", "accesskeyid"})


@attrs.frozen
class Finding:
    """One sensitive value: where it is (``path``) and what it is (``kind``); never the value.

    ``path`` uses the schema syntax with concrete indices (``users[2].email``);
    a bare string scanned on its own has the path ``$``.
    """

    path: str
    kind: FindingKind


def scan(obj: object) -> list[Finding]:
    """Every finding in ``obj``: str, int and bytes values inside any nesting of
    mappings, lists, tuples and sets (other objects are not looked into)."""
    walker = _Walker(rewrite=False)
    walker.walk(obj, None, None, 0)
    return walker.findings


def redact(obj: object) -> Any:
    """A copy of ``obj`` with every finding replaced by ``[REDACTED:<kind>]``.

    Containers are copied (lists stay lists, mappings become dicts); the
    input is never modified.
    """
    return _Walker(rewrite=True).walk(obj, None, None, 0)


def redact_text(text: str) -> str:
    """``text`` with every finding replaced by ``[REDACTED:<kind>]``."""
    return _scan_text(text)[1]


def _scan_text(text: str) -> tuple[list[FindingKind], str]:
    """The kinds found in ``text`` and its redacted form.

    Redacting can separate values that were glued together (an email run
    into a card number), so redaction repeats until nothing more is found;
    the kinds of every round are findings.
    """
    kinds: list[FindingKind] = []
    for _ in range(_MAX_ROUNDS):
        spans = _spans(text)
        if not spans:
            break
        kinds.extend(kind for _, _, kind in spans)
        text = _redact_value(text, spans)
    return kinds, text


class DlpLogFilter(logging.Filter):
    """A logging filter that redacts findings in messages, arguments and tracebacks.

    It never drops a record: it rewrites ``msg`` to the redacted, formatted
    message (and clears ``args``) only when something was found.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  # a broken format string must not break logging
            # logging's error report prints msg and args themselves: redact both.
            record.msg = redact_text(str(record.msg))
            if record.args:
                record.args = redact(record.args)
        else:
            cleaned = redact_text(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_Hit = tuple[int, int, FindingKind]


def _spans(text: str) -> list[_Hit]:
    if len(text) < _SHORTEST:
        return []
    normal, index = normalize(text)
    starts: list[int] = []  # claimed spans are disjoint: keep them sorted by start
    ends: list[int] = []
    found: list[_Hit] = []
    for kind, detector in DETECTORS:
        for start, end in detector(normal):
            at = bisect.bisect_right(starts, start)
            if (at and ends[at - 1] > start) or (at < len(starts) and starts[at] < end):
                continue  # overlaps a span a more specific detector claimed
            starts.insert(at, start)
            ends.insert(at, end)
            found.append((*original_span(index, start, end), kind))
    found.sort()
    return found


# A path is built only when something is found: (parent, key) pairs, root None.
_Path = tuple[Any, object] | None


def _render(path: _Path) -> str:
    keys: list[object] = []
    while path is not None:
        path, key = path
        keys.append(key)
    text = "$"
    for key in reversed(keys):
        text = _child(text, key)
    return text


def _child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = str(key)
    prefix = "" if path == "$" else path + "."
    if _IDENT.fullmatch(name):
        return prefix + name
    return f"{path}[{name!r}]"


def _secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    name = re.sub(r"[^a-z]", "", key.lower())
    return name.endswith(_SECRET_KEY_ENDINGS) and name not in _SECRET_KEY_EXCEPTIONS


class _Walker:
    """One pass over a nested value: collects findings, optionally rewrites strings."""

    def __init__(self, *, rewrite: bool) -> None:
        self.findings: list[Finding] = []
        self.rewrite = rewrite
        self.seen: set[int] = set()
        self.keys: dict[str, tuple[list[FindingKind], str]] = {}  # keys repeat in lists of records

    def walk(self, obj: object, path: _Path, key: object, depth: int) -> Any:
        if isinstance(obj, Mapping | list | tuple | set | frozenset):
            return self._container(obj, path, depth)
        text = _as_text(obj)
        if text is None:
            return obj
        kinds, cleaned = _scan_text(text)
        if not kinds and text and _secret_key(key) and not text.startswith("[REDACTED"):
            kinds, cleaned = [FindingKind.SECRET], f"[REDACTED:{FindingKind.SECRET.value}]"
        if kinds:
            where = _render(path)
            self.findings.extend(Finding(where, kind) for kind in kinds)
        if not self.rewrite or not kinds:
            return obj
        return cleaned

    def _mapping(self, obj: Mapping[Any, Any], path: _Path, depth: int) -> Any:
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            shown = self._key(key, path)
            walked = self.walk(value, (path, shown), key, depth + 1)
            if self.rewrite:
                out[_unique(out, shown) if shown is not key else key] = walked
        return out

    def _key(self, key: object, path: _Path) -> object:
        """Scan a mapping key (emails and tokens are used as keys too); a key with
        findings is reported and replaced by its redacted text, also in paths."""
        text = _as_text(key)
        if text is None and key is not None and not isinstance(key, bool | float):
            text = _key_text(key)  # a tuple key renders into the path: scan its text too
        if text is None or len(text) < _SHORTEST:
            return key
        known = self.keys.get(text)
        if known is None:
            known = self.keys[text] = _scan_text(text)
        kinds, cleaned = known
        if not kinds:
            return key
        where = _render((path, cleaned))
        self.findings.extend(Finding(where, kind) for kind in kinds)
        return cleaned

    def _container(self, obj: Any, path: _Path, depth: int) -> Any:
        if id(obj) in self.seen:
            return None if self.rewrite else obj  # a cycle: its contents are being scanned
        if depth > _MAX_DEPTH:
            # Absurd nesting is not scanned (no RecursionError), but a secret
            # wrapped in 101 lists must not pass as clean: report the cut-off.
            self.findings.append(Finding(_render(path), FindingKind.TOO_DEEP))
            return None if self.rewrite else obj
        self.seen.add(id(obj))
        try:
            if isinstance(obj, Mapping):
                return self._mapping(obj, path, depth)
            items = [self.walk(v, (path, i), None, depth + 1) for i, v in enumerate(obj)]
            # Tuples stay tuples; sets (unordered, maybe unhashable once redacted) become lists.
            return tuple(items) if isinstance(obj, tuple) else items
        finally:
            self.seen.discard(id(obj))


def _unique(out: dict[Any, Any], key: object) -> object:
    # Two sensitive keys can redact to the same text; keep both entries.
    found, n = key, 1
    while found in out:
        n += 1
        found = f"{key}#{n}"
    return found


def _key_text(key: object) -> str | None:
    try:
        return str(key)
    except Exception:  # noqa: BLE001  # a key whose __str__ fails is shown as its type
        return None


def _as_text(obj: object) -> str | None:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, int) and not isinstance(obj, bool):
        try:
            return str(obj)
        except ValueError:
            return None  # past Python's 4300-digit limit: one digit run, too long for any kind
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).decode("utf-8", "replace")
    return None


def _redact_value(text: str, spans: list[_Hit]) -> str:
    parts, last = [], 0
    for start, end, kind in spans:
        parts.append(text[last:start])
        parts.append(f"[REDACTED:{kind.value}]")
        last = end
    parts.append(text[last:])
    return "".join(parts)
