"""``meshsec keys ...`` and ``meshsec token ...``: keys, JWKS and access tokens.

Private keys are written only as passphrase-encrypted PEM. The passphrase
comes from an environment variable (``--passphrase-env``, default
``MESHSEC_KEY_PASSPHRASE``) or, on a terminal, a prompt; never from argv.
A token argument of ``-`` is read from standard input, which keeps tokens out
of shell history.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from meshsec.errors import ConfigError
from meshsec.secret import Secret
from meshsec.tokens import (
    ALGORITHMS,
    KeySet,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    _jose,
    _jws,
)

_PASSPHRASE_ENV = "MESHSEC_KEY_PASSPHRASE"  # noqa: S105  a variable name, not a secret
_ALG_LABEL = b"meshsec-alg: "
_UNVERIFIED = "UNVERIFIED: decoded only; the signature and claims were NOT checked"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_keys(subparsers)
    _register_token(subparsers)


def _register_keys(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keys", help="generate signing keys and publish JWKS")
    commands = parser.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    generate = commands.add_parser(
        "generate", help="write a new private key as passphrase-encrypted PEM; print its kid"
    )
    generate.add_argument("--alg", default="EdDSA", choices=[a for a in ALGORITHMS if a != "HS256"])
    generate.add_argument("--out", type=Path, required=True, help="the PEM file to write (0600)")
    _passphrase_option(generate)
    generate.set_defaults(handler=_generate)
    jwks = commands.add_parser("jwks", help="print the public JWKS for one or more PEM key files")
    jwks.add_argument("files", type=Path, nargs="+", metavar="FILE")
    jwks.add_argument("--alg", help="the algorithm of RSA keys (RS256 or PS256)")
    _passphrase_option(jwks)
    jwks.set_defaults(handler=_jwks)


def _register_token(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("token", help="mint, inspect and verify access tokens")
    commands = parser.add_subparsers(dest="token_command", metavar="SUBCOMMAND", required=True)
    mint = commands.add_parser("mint", help="issue an access token signed with a PEM key")
    mint.add_argument("--key", type=Path, required=True, help="the encrypted PEM private key")
    mint.add_argument("--alg", help="the algorithm of an RSA key (RS256 or PS256)")
    mint.add_argument("--iss", required=True, help="the issuer")
    mint.add_argument("--sub", required=True, help="the subject")
    mint.add_argument("--aud", required=True, action="append", help="an audience (repeatable)")
    mint.add_argument("--scope", action="append", default=[], help="a scope (repeatable)")
    mint.add_argument("--ttl", type=int, default=300, help="lifetime in seconds (default 300)")
    _passphrase_option(mint)
    mint.set_defaults(handler=_mint)
    inspect = commands.add_parser("inspect", help="decode a token WITHOUT verifying it")
    inspect.add_argument("token", help="the token, or - to read it from standard input")
    inspect.set_defaults(handler=_inspect)
    verify = commands.add_parser("verify", help="verify a token against a JWKS file")
    verify.add_argument("token", help="the token, or - to read it from standard input")
    verify.add_argument("--jwks", type=Path, required=True, help="a JWKS JSON file")
    verify.add_argument("--iss", required=True, help="the expected issuer")
    verify.add_argument("--aud", required=True, help="this service's audience")
    verify.add_argument("--scope", action="append", default=[], help="a required scope")
    verify.set_defaults(handler=_verify)


def _passphrase_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-env",
        metavar="VAR",
        default=_PASSPHRASE_ENV,
        help=f"read the key passphrase from this variable (default {_PASSPHRASE_ENV})",
    )


def _passphrase(args: argparse.Namespace, *, confirm: bool = False) -> Secret[str]:
    value = os.environ.get(args.passphrase_env)
    if value:
        return Secret(value)
    if not sys.stdin.isatty():
        raise ConfigError(f"set {args.passphrase_env} to the key passphrase")
    entered = getpass.getpass("key passphrase: ")
    if confirm and getpass.getpass("again: ") != entered:
        raise ConfigError("the passphrases differ")
    return Secret(entered)


def _load(path: Path, args: argparse.Namespace) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    passphrase = _passphrase(args) if b"ENCRYPTED PRIVATE KEY" in data else None
    alg = args.alg or _labelled_alg(data)
    return SigningKey.from_pem(data, passphrase=passphrase, alg=alg)


def _labelled_alg(data: bytes) -> str | None:
    """The algorithm ``keys generate`` wrote above the PEM block, if any.

    An RSA key alone cannot say whether it is for RS256 or PS256; without
    this label ``keys jwks FILE`` and ``token mint`` would need ``--alg``.
    """
    head = data.split(b"-----BEGIN", 1)[0]
    for line in head.splitlines():
        if line.startswith(_ALG_LABEL):
            alg = line[len(_ALG_LABEL) :].strip().decode("ascii", "replace")
            return alg if alg in ALGORITHMS else None
    return None


def _generate(args: argparse.Namespace) -> int:
    key = SigningKey.generate(args.alg)
    pem = key.to_pem(passphrase=_passphrase(args, confirm=True))
    # RFC 7468 §5.2: text outside the encapsulation boundaries is allowed
    # (OpenSSL and cryptography skip it); it records the key's algorithm.
    _write_private(args.out, _ALG_LABEL + key.alg.encode("ascii") + b"\n" + pem)
    print(f"wrote {args.out} ({key.alg}, encrypted); kid {key.kid}")
    return 0


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    # O_CREAT's mode applies only to a new file; narrow an existing one too.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _jwks(args: argparse.Namespace) -> int:
    keys = KeySet([_load(path, args).public() for path in args.files])
    print(json.dumps(keys.to_jwks(), indent=2))
    return 0


def _mint(args: argparse.Namespace) -> int:
    issuer = TokenIssuer(
        issuer=args.iss,
        keys=KeySet([_load(args.key, args)]),
        max_ttl=max(timedelta(hours=1), timedelta(seconds=args.ttl)),
    )
    audience = args.aud[0] if len(args.aud) == 1 else args.aud
    print(issuer.issue(args.sub, audience, scopes=args.scope, ttl=timedelta(seconds=args.ttl)))
    return 0


def _token_text(value: str) -> str:
    return sys.stdin.read().strip() if value == "-" else value.strip()


def _inspect(args: argparse.Namespace) -> int:
    raw = _token_text(args.token).encode("ascii", "replace")
    header, payload, _ = _jws.split(raw)
    decoded: dict[str, Any] = {
        "header": _jose.loads_object(_jose.b64decode(header), "header"),
        "payload": _jose.loads_object(_jose.b64decode(payload), "payload") if payload else None,
    }
    print(f"# {_UNVERIFIED}")
    print(json.dumps(decoded, indent=2, ensure_ascii=True))
    print(f"# {_UNVERIFIED}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        document = args.jwks.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {args.jwks}: {exc.strerror}") from None
    verifier = TokenVerifier(
        issuer=args.iss, audience=args.aud, keys=KeySet.from_jwks(document), cache_size=0
    )
    claims = verifier.verify(_token_text(args.token), scopes=args.scope)
    print("VALID: signature, type, issuer, audience, lifetime and scopes checked")
    print(json.dumps(claims.to_dict(), indent=2, ensure_ascii=True))
    return 0
