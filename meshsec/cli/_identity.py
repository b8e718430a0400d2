"""``meshsec ca init``, ``meshsec ca issue`` and ``meshsec identity inspect``.

Passphrases never travel on the command line (argv is visible to every user
of the machine through ``ps``): they come from an environment variable
(``--passphrase-env VAR``), a file (``--passphrase-file PATH``), the default
variables ``MESHSEC_CA_PASSPHRASE`` (CA key) and ``MESHSEC_KEY_PASSPHRASE``
(issued key), or a prompt, in that order.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from meshsec.clock import to_datetime
from meshsec.errors import ConfigError, MeshsecError
from meshsec.identity import (
    CertificateAuthority,
    IdentityFileError,
    InvalidPassphrase,
    SpiffeId,
)
from meshsec.identity._keys import KEY_TYPES, key_type_name
from meshsec.identity._x509 import (
    dns_sans,
    fingerprint_sha256,
    is_ca,
    load_pem_certificates,
    spiffe_id_of,
    uri_sans,
)
from meshsec.secret import Secret

__all__ = ["parse_duration", "register"]

# ASCII digits only: \d would also take Arabic-Indic and other Unicode digits.
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Read when no --*-env/--*-file option is given, before prompting.
_DEFAULT_ENV = {"passphrase": "MESHSEC_CA_PASSPHRASE", "key-passphrase": "MESHSEC_KEY_PASSPHRASE"}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d`` or combinations such as ``1h30m``."""
    if not text or _DURATION.sub("", text) != "":
        raise ConfigError("a duration looks like 90s, 15m, 1h, 7d or 1h30m")
    total = timedelta(0)
    try:
        for amount, unit in _DURATION.findall(text):
            total += timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise ConfigError("the duration is too long") from None
    if total <= timedelta(0):
        raise ConfigError("a duration must be positive")
    return total


def register(subparsers: Any) -> None:
    ca = subparsers.add_parser("ca", help="run a local certificate authority for a trust domain")
    ca_sub = ca.add_subparsers(dest="ca_command", metavar="ACTION", required=True)

    init = ca_sub.add_parser("init", help="create a CA (root certificate and encrypted key)")
    init.add_argument("--trust-domain", required=True, help="for example example.org")
    init.add_argument("--out", required=True, type=Path, help="directory for ca.pem and ca.key")
    init.add_argument("--key-type", choices=KEY_TYPES, default="ec-p256")
    init.add_argument("--ttl", type=parse_duration, default=timedelta(days=365), help="e.g. 365d")
    init.add_argument("--force", action="store_true", help="replace an existing CA in --out")
    _passphrase_options(init, "passphrase", "the CA key")
    init.set_defaults(handler=_ca_init)

    issue = ca_sub.add_parser("issue", help="issue an X509-SVID for a SPIFFE ID")
    issue.add_argument("spiffe_id", metavar="SPIFFE_ID")
    issue.add_argument("--ca", required=True, type=Path, help="directory written by ca init")
    issue.add_argument("--out", required=True, type=Path, help="directory for svid.pem/svid.key")
    issue.add_argument("--ttl", type=parse_duration, default=timedelta(hours=1), help="e.g. 1h")
    issue.add_argument("--dns", action="append", default=[], help="extra DNS SAN (repeatable)")
    issue.add_argument("--key-type", choices=KEY_TYPES, default="ec-p256")
    issue.add_argument("--force", action="store_true", help="replace existing files in --out")
    _passphrase_options(issue, "passphrase", "the CA key")
    _passphrase_options(issue, "key-passphrase", "the issued key (always encrypted)")
    issue.set_defaults(handler=_ca_issue)

    identity = subparsers.add_parser("identity", help="inspect workload identities")
    id_sub = identity.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    inspect = id_sub.add_parser("inspect", help="describe the certificates in a PEM file")
    inspect.add_argument("cert", type=Path, metavar="CERT.pem")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(handler=_inspect)


def _passphrase_options(parser: argparse.ArgumentParser, name: str, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{name}-env", metavar="VAR", help=f"env variable holding {what}'s passphrase"
    )
    group.add_argument(
        f"--{name}-file", metavar="PATH", type=Path, help=f"file holding {what}'s passphrase"
    )


def _passphrase(args: argparse.Namespace, name: str, what: str, *, confirm: bool) -> Secret[str]:
    attr = name.replace("-", "_")
    env, path = getattr(args, f"{attr}_env"), getattr(args, f"{attr}_file")
    if env is not None:
        value = os.environ.get(env, "")
        if not value:
            raise InvalidPassphrase(f"environment variable {env} is unset or empty")
        return Secret(value)
    if path is not None:
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise IdentityFileError(f"cannot read {path}: {exc.strerror}") from None
        if not value:
            raise InvalidPassphrase(f"{path} holds an empty passphrase")
        return Secret(value)
    # Scripts without a terminal (CI, provisioning) run the issue's bare
    # commands with the passphrase in a well-known variable.
    default_env = _DEFAULT_ENV[name]
    if os.environ.get(default_env):
        return Secret(os.environ[default_env])
    return _prompt(name, what, confirm=confirm)


def _prompt(name: str, what: str, *, confirm: bool) -> Secret[str]:
    if not sys.stdin.isatty():
        raise ConfigError(
            f"no terminal to ask for {what}'s passphrase; set {_DEFAULT_ENV[name]} "
            f"or use --{name}-env or --{name}-file"
        )
    value = getpass.getpass(f"Passphrase for {what}: ")
    if confirm and getpass.getpass("Repeat it: ") != value:
        raise InvalidPassphrase("the two passphrases differ")
    if not value:
        raise InvalidPassphrase("an empty passphrase does not protect a key")
    return Secret(value)


def _ca_init(args: argparse.Namespace) -> int:
    passphrase = _passphrase(args, "passphrase", "the CA key", confirm=True)
    ca = CertificateAuthority.create(args.trust_domain, key_type=args.key_type, ttl=args.ttl)
    ca.save(args.out, passphrase=passphrase, overwrite=args.force)
    print(f"created CA for trust domain {ca.trust_domain} in {args.out}")
    print(f"  root: {args.out / 'ca.pem'} (share it: it is the trust bundle)")
    print(f"  key:  {args.out / 'ca.key'} (encrypted, 0600)")
    print(f"  sha256 fingerprint: {fingerprint_sha256(ca.certificate)}")
    print(f"  not after: {ca.not_after.isoformat()}")
    return 0


def _ca_issue(args: argparse.Namespace) -> int:
    spiffe_id = SpiffeId.parse(args.spiffe_id)
    ca_pass = _passphrase(args, "passphrase", "the CA key", confirm=False)
    ca = CertificateAuthority.load(args.ca, passphrase=ca_pass)
    key_pass = _passphrase(args, "key-passphrase", "the issued key", confirm=True)
    out: Path = args.out
    targets = [out / "svid.pem", out / "svid.key", out / "bundle.pem"]
    if not args.force and any(p.exists() for p in targets):
        raise IdentityFileError(f"{out} already holds an identity; pass --force to replace it")
    identity = ca.issue(spiffe_id, ttl=args.ttl, dns_names=args.dns, key_type=args.key_type)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    identity.save(targets[0], targets[1], passphrase=key_pass)
    ca.bundle.save(targets[2])
    print(f"issued {identity.spiffe_id} (serial {identity.serial_number:x})")
    print(f"  certificate: {targets[0]}")
    print(f"  key:         {targets[1]} (encrypted, 0600)")
    print(f"  bundle:      {targets[2]}")
    print(f"  not after:   {identity.not_after.isoformat()}")
    return 0


def _describe(cert: x509.Certificate) -> dict[str, Any]:
    now = to_datetime()
    try:
        spiffe: str | None = str(spiffe_id_of(cert))
        problem = None
    except MeshsecError as exc:
        spiffe, problem = None, exc.message
    status = "valid"
    if now < cert.not_valid_before_utc:
        status = "not yet valid"
    elif now >= cert.not_valid_after_utc:
        status = "expired"
    return {
        "spiffe_id": spiffe,
        "spiffe_id_problem": problem,
        "uri_sans": uri_sans(cert),
        "dns_sans": dns_sans(cert),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "status": status,
        "is_ca": is_ca(cert),
        "key_type": _key_type(cert),
        "sha256_fingerprint": fingerprint_sha256(cert),
    }


def _key_type(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):  # an algorithm OpenSSL cannot load
        return "other"
    return key_type_name(key)


def _inspect(args: argparse.Namespace) -> int:
    try:
        data = args.cert.read_bytes()
    except OSError as exc:
        raise IdentityFileError(f"cannot read {args.cert}: {exc.strerror}") from None
    described = [_describe(cert) for cert in load_pem_certificates(data)]
    if args.json:
        print(json.dumps(described, indent=2))
        return 0
    for index, info in enumerate(described):
        if index:
            print()
        _print_human(info, index)
    if described[0]["spiffe_id"] is None and not described[0]["is_ca"]:
        return 1  # a leaf that is not an X509-SVID
    return 0


def _safe(text: str) -> str:
    """Escape control and non-ASCII characters: certificate names are attacker-chosen
    and must not drive the terminal (ANSI escape injection)."""
    return "".join(ch if " " <= ch <= "~" else ch.encode("unicode_escape").decode() for ch in text)


def _print_human(info: dict[str, Any], index: int) -> None:
    role = "CA certificate" if info["is_ca"] else ("leaf" if index == 0 else "certificate")
    print(f"[{index}] {role}")
    spiffe = info["spiffe_id"] or f"none ({info['spiffe_id_problem']})"
    print(f"  SPIFFE ID:   {spiffe}")
    if info["dns_sans"]:
        print(f"  DNS names:   {_safe(', '.join(info['dns_sans']))}")
    print(f"  subject:     {_safe(info['subject']) or '(empty)'}")
    print(f"  issuer:      {_safe(info['issuer'])}")
    print(f"  serial:      {info['serial']}")
    print(f"  validity:    {info['not_before']} .. {info['not_after']} ({info['status']})")
    print(f"  key type:    {info['key_type']}")
    print(f"  SHA-256:     {info['sha256_fingerprint']}")
