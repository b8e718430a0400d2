"""Check a hash-chained audit file and its checkpoint."""

from __future__ import annotations

import hmac
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Final

import attrs

from meshsec.audit._chain import (
    ALG_KEYED,
    GENESIS,
    AuditKey,
    ChainMac,
    ParsedLine,
    parse_line,
    read_checkpoint,
)
from meshsec.audit._errors import AuditChainError, AuditFileError, AuditKeyError

MAX_LINE_BYTES: Final = 1 << 20

_PROBLEMS = {
    "malformed": "not a well-formed chained audit line (edited, cut, or not an audit file)",
    "unkeyed_line": "an unkeyed hash where a keyed MAC is required (chain rebuilt without key)",
    "prev_mismatch": "does not chain to the line before (a line was inserted, deleted or moved)",
    "sequence_mismatch": "sequence number out of place (a line was inserted, deleted or moved)",
    "mac_mismatch": "MAC does not match (the line was edited or forged, or the key is wrong)",
    "truncated": "lines are missing at the end: the checkpoint records more lines",
    "checkpoint_missing": "the checkpoint file beside the audit file is missing",
    "checkpoint_invalid": "the checkpoint does not verify (forged, edited, or wrong key)",
    "checkpoint_mismatch": "the line the checkpoint points at has a different MAC",
}
#: Problem code -> readable sentence, for :attr:`ChainReport.problem`.
PROBLEMS: Final[Mapping[str, str]] = MappingProxyType(_PROBLEMS)


@attrs.frozen(kw_only=True)
class ChainReport:
    """The outcome of :func:`verify_chain`.

    ``first_bad_line`` is 1-based, or None when the problem is not one line's
    (a missing or forged checkpoint). ``problem`` is a stable code from
    :data:`PROBLEMS`. ``keyed`` is False for a plain SHA-256 chain, which only
    catches accidents: anyone can recompute it after an edit.
    """

    ok: bool
    lines: int
    keyed: bool
    first_bad_line: int | None = None
    problem: str | None = None

    @property
    def detail(self) -> str:
        """A readable sentence for the problem ("" when ok)."""
        return "" if self.problem is None else PROBLEMS[self.problem]

    def check(self) -> ChainReport:
        """Return self when ok; raise :class:`AuditChainError` otherwise."""
        if not self.ok:
            where = "" if self.first_bad_line is None else f"line {self.first_bad_line}: "
            raise AuditChainError(f"audit chain broken: {where}{self.detail}")
        return self


def verify_chain(path: str | os.PathLike[str], key: AuditKey | None = None) -> ChainReport:
    """Verify every line's MAC, the links between lines and the checkpoint.

    Reports the first bad line. Raises :class:`AuditKeyError` when the file
    is keyed and no key is given (or the key is unusable), and
    :class:`AuditFileError` when the file cannot be read.
    """
    chain = ChainMac(key)
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return _verify(path, handle, chain)
    except OSError as exc:
        raise AuditFileError(f"cannot read audit file {path.name!r}: {exc.strerror}") from None


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    while raw := handle.readline(MAX_LINE_BYTES):
        yield raw


def _remaining_lines(handle: BinaryIO) -> int:
    # Only a regular file has an end: counting what follows a bad line in
    # /dev/zero or a pipe would never return.
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        return 0
    return sum(1 for _ in _lines(handle))


def _verify(path: Path, handle: BinaryIO, chain: ChainMac) -> ChainReport:
    prev, count = GENESIS, 0
    for count, raw in enumerate(_lines(handle), start=1):  # count is used after the loop
        problem, prev = _check_line(parse_line(raw), count, prev, chain)
        if problem is not None:
            total = count + _remaining_lines(handle)
            return ChainReport(
                ok=False, lines=total, keyed=chain.keyed, first_bad_line=count, problem=problem
            )
    return _check_checkpoint(path, chain, count, prev, handle)


def _check_line(
    line: ParsedLine | None, seq: int, prev: bytes, chain: ChainMac
) -> tuple[str | None, bytes]:
    if line is None:
        return "malformed", prev
    if line.alg != chain.alg:
        if line.alg == ALG_KEYED and not chain.keyed:
            raise AuditKeyError("this audit chain is keyed: pass its key to verify it")
        return ("unkeyed_line" if chain.keyed else "malformed"), prev
    if line.prev != prev.hex():
        return "prev_mismatch", prev
    if line.seq != seq or type(line.seq) is not int:
        return "sequence_mismatch", prev
    if not hmac.compare_digest(line.mac, chain.line(prev, line.content)):
        return "mac_mismatch", prev
    return None, line.mac


def _check_checkpoint(
    path: Path, chain: ChainMac, count: int, head: bytes, handle: BinaryIO
) -> ChainReport:
    checkpoint = read_checkpoint(path, chain)
    bad = ChainReport(ok=False, lines=count, keyed=chain.keyed)
    if checkpoint.status == "missing":
        return attrs.evolve(bad, problem="checkpoint_missing")
    if checkpoint.status != "ok":
        if checkpoint.alg == ALG_KEYED and not chain.keyed:
            raise AuditKeyError("this audit chain is keyed: pass its key to verify it")
        return attrs.evolve(bad, problem="checkpoint_invalid")
    if checkpoint.lines > count:
        return attrs.evolve(bad, problem="truncated", first_bad_line=count + 1)
    at = head if checkpoint.lines == count else _mac_at(handle, checkpoint.lines)
    if not hmac.compare_digest(at, checkpoint.head):
        return attrs.evolve(bad, problem="checkpoint_mismatch", first_bad_line=checkpoint.lines)
    return ChainReport(ok=True, lines=count, keyed=chain.keyed)


def _mac_at(handle: BinaryIO, lineno: int) -> bytes:
    """The MAC of line ``lineno`` (already verified), or the genesis value for 0."""
    if lineno == 0:
        return GENESIS
    handle.seek(0)
    for number, raw in enumerate(_lines(handle), start=1):
        if number == lineno:
            parsed = parse_line(raw)
            return GENESIS if parsed is None else parsed.mac
    return GENESIS
