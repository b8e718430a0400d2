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


def _key(args: argparse.Namespace) -> Secret[bytes] | None:
    if args.key is not None:
        return Secret(os.fsencode(str(args.key)))  # argv bytes as the OS gave them
    if args.key_file is not None:
        try:
            raw = Path(args.key_file).read_bytes()
        except OSError as exc:
            raise audit.AuditKeyError(f"cannot read the key file: {exc.strerror}") from None
        return Secret(raw.rstrip(b"\r\n"))
    if args.key_env is not None:
        value = os.environ.get(args.key_env)
        if value is None:
            raise audit.AuditKeyError(f"environment variable {args.key_env!r} is not set")
        return Secret(os.fsencode(value))  # environment bytes as the OS gave them
    return None


def _verify(args: argparse.Namespace) -> int:
    report = audit.verify_chain(args.file, key=_key(args))
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
