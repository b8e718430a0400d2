"""``meshsec fields ...``: master keys, wrapped keyrings and DLP scans.

* ``meshsec fields keygen`` prints a new master key (``msk1:...``) to stdout;
  store it in a secret file or an environment variable, never in the repo.
* ``meshsec fields keyring --master-key-env VAR [--name N]`` prints a new
  keyring wrapped under that master key (JSON, safe to store).
* ``meshsec fields scan FILE`` prints the path and kind of every DLP finding
  in a JSON document (or a text file); exit status 1 when anything is found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from meshsec.errors import ConfigError
from meshsec.fields import Keyring, LocalKeyProvider, scan


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("fields", help="field protection: keys and DLP scans")
    commands = parser.add_subparsers(dest="fields_command", metavar="SUBCOMMAND", required=True)
    keygen = commands.add_parser("keygen", help="print a new master key (msk1:...)")
    keygen.set_defaults(handler=_keygen)
    keyring = commands.add_parser("keyring", help="print a new keyring wrapped by a master key")
    source = keyring.add_mutually_exclusive_group(required=True)
    source.add_argument("--master-key-env", metavar="VAR", help="read the master key from VAR")
    source.add_argument("--master-key-file", type=Path, help="read the master key from a file")
    keyring.add_argument("--name", default="default", help="keyring name (key ids are NAME-vN)")
    keyring.set_defaults(handler=_keyring)
    dlp = commands.add_parser(
        "scan",
        help="list DLP findings (path and kind, never values) in a JSON or text file",
        description="Exit status: 0 nothing found, 1 findings listed, 2 unreadable input.",
    )
    dlp.add_argument("file", type=Path, help="JSON document or text file ('-' for stdin)")
    dlp.set_defaults(handler=_scan)


def _keygen(args: argparse.Namespace) -> int:
    print(LocalKeyProvider.new_master_key().reveal())
    return 0


def _keyring(args: argparse.Namespace) -> int:
    if args.master_key_env is not None:
        provider = LocalKeyProvider.from_env(args.master_key_env)
    else:
        provider = LocalKeyProvider.from_file(args.master_key_file)
    print(Keyring.generate(args.name).to_wrapped_json(provider))
    return 0


def _scan(args: argparse.Namespace) -> int:
    text = _read(args.file)
    try:
        document: object = json.loads(text)
    except (ValueError, RecursionError):
        # Not JSON, or nested deeper than the parser goes: scan it as text.
        document = text
    findings = scan(document)
    for finding in findings:
        print(f"{finding.path}\t{finding.kind.value}")
    return 1 if findings else 0


def _read(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {type(exc).__name__}") from None
