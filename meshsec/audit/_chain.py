"""The hash-chain format shared by the file sink and the verifier.

Each line is a JSON object: the event (:meth:`SecurityEvent.to_dict`) plus
``seq`` (1-based line number), ``alg``, ``prev`` (the previous line's MAC,
hex; 32 zero bytes before the first line) and, last, ``mac``::

    mac = HMAC-SHA256(K, prev || content)      K = HMAC-SHA256(key, LABEL)
    mac = SHA-256(prev || content)              without a key

``content`` is the exact line bytes without the ``,"mac":"..."`` suffix (the
closing brace kept), so verification needs no re-serialization. Deriving K
from the caller's key keeps the audit MACs apart from any other use of it.
The checkpoint ``FILE.checkpoint`` holds ``lines`` and ``head`` (the last
line's MAC), MAC'ed the same way under a different label.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Final

import attrs

from meshsec.audit._errors import AuditFileError, AuditKeyError
from meshsec.secret import Secret

ALG_KEYED: Final = "hmac-sha256"
ALG_PLAIN: Final = "sha256"
GENESIS: Final = bytes(32)
MIN_KEY_BYTES: Final = 16
_LINE_LABEL: Final = b"meshsec audit chain v1"
_CHECKPOINT_LABEL: Final = b"meshsec audit checkpoint v1\x00"
_LINE: Final = re.compile(rb'(\{.*),"mac":"([0-9a-f]{64})"\}\n')

AuditKey = bytes | str | Secret[bytes] | Secret[str]


class ChainMac:
    """Computes line and checkpoint MACs; never shows its key."""

    __slots__ = ("_key",)

    def __init__(self, key: AuditKey | None) -> None:
        raw = _key_bytes(key)
        self._key = None if raw is None else hmac.digest(raw, _LINE_LABEL, "sha256")

    @property
    def keyed(self) -> bool:
        return self._key is not None

    @property
    def alg(self) -> str:
        return ALG_KEYED if self._key is not None else ALG_PLAIN

    def line(self, prev: bytes, content: bytes) -> bytes:
        if self._key is None:
            return hashlib.sha256(prev + content).digest()
        return hmac.digest(self._key, prev + content, "sha256")

    def checkpoint(self, content: bytes) -> bytes:
        if self._key is None:
            return hashlib.sha256(_CHECKPOINT_LABEL + content).digest()
        return hmac.digest(self._key, _CHECKPOINT_LABEL + content, "sha256")

    def __repr__(self) -> str:
        return f"ChainMac(alg={self.alg!r})"


def _key_bytes(key: AuditKey | None) -> bytes | None:
    if key is None:
        return None
    # Text keys (an operator's passphrase, an environment variable) are
    # their UTF-8 bytes, bare or wrapped in Secret.
    value = key.reveal() if isinstance(key, Secret) else key
    if isinstance(value, str):
        try:
            value = value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. an undecodable env var)
            raise AuditKeyError("an audit key given as text must be valid Unicode") from None
    if not isinstance(value, bytes):
        raise AuditKeyError("an audit key must be bytes, text, or a Secret holding either")
    if len(value) < MIN_KEY_BYTES:
        raise AuditKeyError(f"an audit key needs at least {MIN_KEY_BYTES} bytes")
    return value


def encode_line(event_json: str, *, seq: int, prev: bytes, chain: ChainMac) -> tuple[bytes, bytes]:
    """One chained line (with its newline) and its MAC.

    ``event_json`` is a pure-ASCII JSON object (``SecurityEvent.to_json()``).
    """
    content = f'{event_json[:-1]},"seq":{seq},"alg":"{chain.alg}","prev":"{prev.hex()}"}}'
    raw = content.encode("ascii")
    mac = chain.line(prev, raw)
    return b'%s,"mac":"%s"}\n' % (raw[:-1], mac.hex().encode("ascii")), mac


@attrs.frozen(kw_only=True)
class ParsedLine:
    content: bytes
    mac: bytes
    seq: object
    alg: object
    prev: object


def parse_line(line: bytes) -> ParsedLine | None:
    """Split a line into content and MAC; None when it is not a chained line."""
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    try:
        data = json.loads(match.group(1) + b"}")
    except (ValueError, RecursionError):  # hostile nesting must not crash the verifier
        return None
    if not isinstance(data, dict):
        return None
    return ParsedLine(
        content=match.group(1) + b"}",
        mac=bytes.fromhex(match.group(2).decode("ascii")),
        seq=data.get("seq"),
        alg=data.get("alg"),
        prev=data.get("prev"),
    )


def checkpoint_path(path: Path) -> Path:
    return path.with_name(path.name + ".checkpoint")


def _checkpoint_content(lines: int, head: bytes, alg: str) -> bytes:
    body = {"alg": alg, "head": head.hex(), "lines": lines}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")


def write_checkpoint(
    path: Path, *, lines: int, head: bytes, chain: ChainMac, fsync: bool = False
) -> None:
    """Atomically replace the checkpoint (temp file in the same directory + os.replace)."""
    content = _checkpoint_content(lines, head, chain.alg)
    record = b'%s,"mac":"%s"}\n' % (content[:-1], chain.checkpoint(content).hex().encode())
    target = checkpoint_path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(record)
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise AuditFileError(f"cannot write the audit checkpoint: {exc.strerror}") from None


@attrs.frozen(kw_only=True)
class Checkpoint:
    """What the checkpoint file says: ``status`` is "ok", "missing" or "invalid"."""

    status: str
    lines: int = 0
    head: bytes = GENESIS
    alg: object = None


def read_checkpoint(path: Path, chain: ChainMac) -> Checkpoint:
    """Read and check the checkpoint beside ``path``."""
    try:
        raw = checkpoint_path(path).read_bytes()
    except FileNotFoundError:
        return Checkpoint(status="missing")
    except OSError as exc:
        raise AuditFileError(f"cannot read the audit checkpoint: {exc.strerror}") from None
    parsed = parse_line(raw)
    body = None if parsed is None else _checkpoint_body(parsed.content)
    if parsed is None or body is None:
        return Checkpoint(status="invalid")
    lines, head, alg = body
    valid = (
        alg == chain.alg
        and parsed.content == _checkpoint_content(lines, head, alg)
        and hmac.compare_digest(parsed.mac, chain.checkpoint(parsed.content))
    )
    return Checkpoint(status="ok" if valid else "invalid", lines=lines, head=head, alg=alg)


def _checkpoint_body(content: bytes) -> tuple[int, bytes, str] | None:
    try:
        body = json.loads(content)
        lines, head, alg = body["lines"], bytes.fromhex(body["head"]), body["alg"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if type(lines) is not int or lines < 0 or len(head) != 32 or not isinstance(alg, str):
        return None
    return lines, head, alg
