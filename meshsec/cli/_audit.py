"""``meshsec audit verify FILE``: check a hash-chained audit file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from meshsec import audit
from meshsec.secret import Secret


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="work with audit trails")
    commands = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    verify = commands.add_parser(
        "verify",
        help="verify a hash-chained audit file and its checkpoint",
        description=(
            "Verify every line's MAC, the links between lines and the checkpoint. "
            "Exit status: 0 verified, 1 tampered or damaged (prints the first bad line), "
            "2 usage or key error."
        ),
    )
    verify.add_argument("file", type=Path, help="the audit file (FILE.checkpoint beside it)")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--key", help="the audit key as text (visible to other local users)")
    source.add_argument("--key-file", type=Path, help="read the audit key from this file")
    source.add_argument("--key-env", metavar="VAR", help="read the audit key from this variable")
    verify.set_defaults(handler=_verify)


def _keys(args: argparse.Namespace) -> list[Secret[bytes] | None]:
    """The key to verify with; a key file may give two readings of it."""
    if args.key is not None:
        return [Secret(os.fsencode(str(args.key)))]  # argv bytes as the OS gave them
    if args.key_file is not None:
        try:
            raw = Path(args.key_file).read_bytes()
        except OSError as exc:
            raise audit.AuditKeyError(f"cannot read the key file: {exc.strerror}") from None
        text = raw.rstrip(b"\r\n")
        # A text key file usually ends in a newline that is not part of the
        # key, but a raw random key may itself end in 0x0a or 0x0d: try both.
        return [Secret(text), Secret(raw)] if text != raw else [Secret(raw)]
    if args.key_env is not None:
        value = os.environ.get(args.key_env)
        if value is None:
            raise audit.AuditKeyError(f"environment variable {args.key_env!r} is not set")
        return [Secret(os.fsencode(value))]  # environment bytes as the OS gave them
    return [None]


def _report(path: Path, keys: list[Secret[bytes] | None]) -> audit.ChainReport:
    """The report under the first key that verifies, else under the first usable key."""
    first: audit.ChainReport | None = None
    for index, key in enumerate(keys):
        last = index == len(keys) - 1
        try:
            report = audit.verify_chain(path, key=key)
        except audit.AuditKeyError:
            if last and first is None:
                raise
            continue
        if report.ok:
            return report
        first = first or report
    if first is None:  # unreachable: the last key either raised or set it
        raise audit.AuditKeyError("no usable audit key")
    return first


def _verify(args: argparse.Namespace) -> int:
    report = _report(args.file, _keys(args))
    if not report.ok:
        where = "checkpoint" if report.first_bad_line is None else f"line {report.first_bad_line}"
        print(f"{where}: {report.detail} [{report.problem}]")
        return 1
    if report.keyed:
        print(f"OK: {report.lines} lines, HMAC-SHA256 chain and checkpoint verified")
        return 0
    # The result line itself says how weak an unkeyed check is, so that a
    # script reading only stdout cannot mistake it for a keyed verification.
    print(
        f"OK: {report.lines} lines, SHA-256 chain and checkpoint verified "
        "(no audit key: plain SHA-256 fallback, only catches accidents)"
    )
    print(
        "warning: this file has no audit key: its plain SHA-256 chain only catches "
        "accidents, not an attacker, who can recompute it after editing",
        file=sys.stderr,
    )
    return 0
