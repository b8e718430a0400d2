"""The ``meshsec`` command.

Each area contributes one private module that exposes
``register(subparsers)``; this module only wires them together, prints typed
errors as ``error [code]: message`` and maps them to exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from meshsec import __version__
from meshsec.errors import MeshsecError

__all__ = ["main"]

# One line per area; each module defines register(subparsers).
_COMMAND_MODULES = (
    "meshsec.cli._demo",
    "meshsec.cli._audit",
    "meshsec.cli._fields",
    "meshsec.cli._tokens",
    "meshsec.cli._identity",
    "meshsec.cli._policy",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meshsec", description="mesh-grade security as a library")
    parser.add_argument("--version", action="version", version=f"meshsec {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except MeshsecError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``meshsec ... | head``): stop quietly, and keep
        # the interpreter's final flush from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status
