"""The append-only, hash-chained JSONL audit file."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from pathlib import Path
from typing import BinaryIO, Final

from meshsec.audit._chain import (
    GENESIS,
    AuditKey,
    ChainMac,
    encode_line,
    parse_line,
    read_checkpoint,
    write_checkpoint,
)
from meshsec.audit._errors import AuditChainError, AuditFileError, AuditKeyError
from meshsec.audit._event import SecurityEvent

try:
    import fcntl
except ImportError:  # pragma: no cover  # Windows: no advisory locks, single writer by contract
    fcntl = None  # type: ignore[assignment]

_log = logging.getLogger("meshsec.audit")

DEFAULT_CHECKPOINT_EVERY: Final = 1000
_TAIL_BYTES: Final = 1 << 20


class JsonlFileSink:
    """Append events to a hash-chained JSON Lines file (see docs/audit.md).

    Each line carries ``prev`` and ``mac`` = HMAC-SHA256 under ``key`` over the
    previous MAC and the line's content; without a key a plain SHA-256 chain
    that only catches accidents. The checkpoint ``FILE.checkpoint`` (line
    count and head MAC) is rewritten atomically every ``checkpoint_every``
    lines and on :meth:`flush` / :meth:`close`, so it lags the file by at
    most that many lines while the sink is open.

    Re-opening an existing file continues its chain after checking its last
    line and checkpoint under ``key``. One writer per file: a second sink on
    the same file (in any process) raises :class:`AuditFileError`.
    Thread-safe. With ``fsync=True`` every line is flushed to disk before
    :meth:`emit` returns (durable, much slower).

    Raises :class:`AuditKeyError` for an unusable key, :class:`AuditChainError`
    when the existing file does not verify under ``key`` at its end, and
    :class:`AuditFileError` when the file cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: AuditKey | None = None,
        *,
        fsync: bool = False,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        if checkpoint_every < 1:
            raise AuditFileError("checkpoint_every must be at least 1")
        self._path = Path(path)
        self._chain = ChainMac(key)
        self._fsync = fsync
        self._every = checkpoint_every
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._file: BinaryIO | None = _open_locked(self._path)
        try:
            self._lines, self._head = _resume(self._file, self._path, self._chain)
            # One writer (flock), so the size is known without a stat per line.
            self._size = os.fstat(self._file.fileno()).st_size
            self._checkpoint()
        except BaseException:
            self._file.close()
            raise
        self._since_checkpoint = 0
        if not self._chain.keyed:
            # The weaker mode is the default, so it is loud: once per sink.
            _log.warning(
                "audit file %r has no key: its SHA-256 chain only catches accidents; "
                "anyone who can edit the file can recompute it (pass key=...)",
                self._path.name,
            )

    @property
    def path(self) -> Path:
        return self._path

    def emit(self, event: SecurityEvent) -> None:
        """Append one chained line. Raises :class:`AuditFileError` once closed."""
        data = event.to_json()
        with self._lock:
            self._append(data)

    def _append(self, data: str) -> None:
        if self._file is None:
            raise AuditFileError("the audit file sink is closed")
        if os.getpid() != self._pid:
            # Parent and child would interleave two chains in one file.
            raise AuditFileError("an audit file sink cannot be used after fork(); open a new one")
        line, mac = encode_line(data, seq=self._lines + 1, prev=self._head, chain=self._chain)
        try:
            _write_all_or_raise(self._file, line)
            if self._fsync:
                os.fsync(self._file.fileno())
        except OSError as exc:
            # Take a half-written line back out, so that once space is free the
            # chain continues intact instead of breaking at a torn line.
            self._truncate_to(self._size)
            raise AuditFileError(f"cannot append to the audit file: {exc.strerror}") from None
        self._size += len(line)
        self._lines += 1
        self._head = mac
        self._since_checkpoint += 1
        if self._since_checkpoint >= self._every:
            self._checkpoint()

    def _truncate_to(self, size: int) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # best effort: the write already failed
                os.ftruncate(self._file.fileno(), size)

    def _checkpoint(self) -> None:
        write_checkpoint(
            self._path, lines=self._lines, head=self._head, chain=self._chain, fsync=self._fsync
        )
        self._since_checkpoint = 0

    def flush(self) -> None:
        """Bring the checkpoint up to date (and fsync when asked to)."""
        with self._lock:
            if self._file is None:
                return
            if self._fsync:
                os.fsync(self._file.fileno())
            self._checkpoint()

    def close(self) -> None:
        """Write the final checkpoint and close the file. Idempotent."""
        with self._lock:
            if self._file is None:
                return
            try:
                self._checkpoint()
            finally:
                self._file.close()  # also releases the advisory lock
                self._file = None

    def __enter__(self) -> JsonlFileSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._file is None else f"{self._lines} lines"
        return f"JsonlFileSink({str(self._path)!r}, alg={self._chain.alg!r}, {state})"


def _write_all_or_raise(handle: BinaryIO, line: bytes) -> None:
    # One write(2): a short count means the disk or RLIMIT_FSIZE cut the line.
    if handle.write(line) != len(line):
        raise OSError(errno.ENOSPC, "short write (disk full or file size limit reached)")


def _open_locked(path: Path) -> BinaryIO:
    try:
        # Unbuffered: each line is one write(2) on an O_APPEND descriptor, so a
        # crash loses at most the line being written and readers never see half.
        # Owner-only permissions on creation: the trail names users and resources.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        handle: BinaryIO = os.fdopen(fd, "ab", buffering=0)
    except OSError as exc:
        raise AuditFileError(f"cannot open audit file {path.name!r}: {exc.strerror}") from None
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise AuditFileError(
                f"audit file {path.name!r} is already open for writing by another sink"
            ) from None
    return handle


def _resume(handle: BinaryIO, path: Path, chain: ChainMac) -> tuple[int, bytes]:
    """Line count and head MAC of an existing chain, checked at its end."""
    size = os.fstat(handle.fileno()).st_size
    checkpoint = read_checkpoint(path, chain)
    if size == 0 and checkpoint.status == "missing":
        return 0, GENESIS
    if checkpoint.status == "invalid" and checkpoint.alg not in (None, chain.alg):
        raise AuditKeyError(
            f"{path.name!r} is a {checkpoint.alg} chain: open it with the matching key setting"
        )
    if checkpoint.status != "ok":
        raise AuditChainError(
            f"the checkpoint of {path.name!r} is {checkpoint.status} under this key "
            "(wrong key, or tampered); "
            "run 'meshsec audit verify', then archive the file and start a new one"
        )
    lines, last = _count_and_last_line(path)
    if checkpoint.lines > lines:
        raise AuditChainError(f"{path.name!r} has fewer lines than its checkpoint records")
    if lines == 0:
        return 0, GENESIS
    parsed = parse_line(last)
    if parsed is None or parsed.seq != lines or parsed.alg != chain.alg:
        raise AuditChainError(f"the last line of {path.name!r} is not a valid chained line")
    try:
        prev = bytes.fromhex(str(parsed.prev))
    except ValueError:
        raise AuditChainError(
            f"the last line of {path.name!r} is not a valid chained line"
        ) from None
    if chain.line(prev, parsed.content) != parsed.mac:
        raise AuditKeyError(f"the last line of {path.name!r} does not verify under this key")
    if checkpoint.lines == lines and checkpoint.head != parsed.mac:
        raise AuditChainError(f"the checkpoint of {path.name!r} does not match its last line")
    return lines, parsed.mac


def _count_and_last_line(path: Path) -> tuple[int, bytes]:
    lines, tail = 0, b""
    try:
        with path.open("rb") as reader:
            while chunk := reader.read(_TAIL_BYTES):
                lines += chunk.count(b"\n")
                tail = (tail + chunk)[-_TAIL_BYTES:]
    except OSError as exc:
        raise AuditFileError(f"cannot read audit file {path.name!r}: {exc.strerror}") from None
    if tail and not tail.endswith(b"\n"):
        raise AuditChainError(f"the last line of {path.name!r} is incomplete")
    start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
    return lines, tail[start:]
