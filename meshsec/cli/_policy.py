"""``meshsec policy``: check, test, explain and sign policy documents."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from meshsec.policy import Engine, PolicyConfigError, PolicySet
from meshsec.policy._model import load_document
from meshsec.policy._request import thaw
from meshsec.secret import Secret

# The same default as ``meshsec keys``, so a key made there signs here in a script.
_PASSPHRASE_ENV = "MESHSEC_KEY_PASSPHRASE"  # noqa: S105  a variable name, not a secret


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("policy", help="validate, test, explain and sign policies")
    commands = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)

    check = commands.add_parser("check", help="validate a policy document or signed bundle")
    check.add_argument("file", type=Path)
    check.add_argument(
        "--keys", type=Path, help="JWKS file: FILE is a bundle signed by one of them"
    )
    check.set_defaults(handler=_check)

    test = commands.add_parser("test", help="run a table of requests and expected decisions")
    test.add_argument("file", type=Path)
    test.add_argument("cases", type=Path)
    test.set_defaults(handler=_test)

    explain = commands.add_parser("explain", help="decide one request and trace every rule")
    explain.add_argument("file", type=Path)
    explain.add_argument("request", type=Path)
    explain.set_defaults(handler=_explain)

    sign = commands.add_parser("sign", help="write a signed policy bundle")
    sign.add_argument("file", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="PEM private key file")
    sign.add_argument(
        "--passphrase-env",
        metavar="VAR",
        default=_PASSPHRASE_ENV,
        help=f"variable holding the key passphrase (default {_PASSPHRASE_ENV}); "
        "asked on a terminal when unset",
    )
    sign.add_argument("-o", "--output", type=Path, help="bundle file (default: standard output)")
    sign.set_defaults(handler=_sign)


def _load(path: Path, keys: Path | None = None) -> PolicySet:
    if keys is None:
        return PolicySet.from_file(path)
    from meshsec.tokens import KeySet

    try:
        keyset = KeySet.from_jwks(keys.read_bytes())
    except OSError as exc:
        raise PolicyConfigError(f"cannot read {keys}: {exc.strerror}") from None
    return PolicySet.from_bundle(path, keys=keyset)


def _check(args: argparse.Namespace) -> int:
    policy = _load(args.file, args.keys)
    print(f"ok: {len(policy.rules)} rules, mode {policy.mode}, version {policy.version_id}")
    return 0


def _request(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, dict) or "action" not in doc:
        raise PolicyConfigError(f"{where}: a request needs at least 'action'")
    unknown = set(doc) - {"subject", "action", "resource", "context"}
    if unknown:
        raise PolicyConfigError(f"{where}: unknown request field {sorted(unknown)[0]!r}")
    return {
        "subject": doc.get("subject"),
        "action": doc["action"],
        "resource": doc.get("resource"),
        "context": doc.get("context"),
    }


def _expected(doc: Any, where: str) -> dict[str, Any]:
    if doc in ("allow", "deny"):
        return {"effect": doc}
    # An empty mapping would expect nothing and pass whatever the policy does.
    if isinstance(doc, dict) and doc and set(doc) <= _EXPECTABLE:
        if "allowed" in doc and not isinstance(doc["allowed"], bool):
            raise PolicyConfigError(f"{where}.expect.allowed: must be true or false")
        return dict(doc)
    raise PolicyConfigError(
        f"{where}.expect: 'allow', 'deny' or a mapping of {', '.join(sorted(_EXPECTABLE))}"
    )


_EXPECTABLE = frozenset(("allowed", "effect", "rule_id", "dry_run", "obligations"))


def _test(args: argparse.Namespace) -> int:
    engine = Engine(_load(args.file), cache_size=0)
    table = load_document(args.cases)
    cases = table.get("cases") if isinstance(table, dict) else None
    if not isinstance(cases, list) or not cases:
        raise PolicyConfigError(f"{args.cases}: needs a non-empty 'cases' list")
    failures = 0
    for index, case in enumerate(cases):
        where = f"cases[{index}]"
        if not isinstance(case, dict):
            raise PolicyConfigError(f"{where}: must be a mapping")
        name = str(case.get("name", where))
        expected = _expected(case.get("expect"), where)
        decision = engine.decide(**_request(case.get("request"), where))
        actual = {
            "allowed": decision.allowed,
            "effect": decision.effect,
            "rule_id": decision.rule_id,
            "dry_run": decision.dry_run,
            "obligations": thaw(decision.obligations),
        }
        wrong = {k: v for k, v in expected.items() if actual[k] != v}
        if wrong:
            failures += 1
            print(f"FAIL {name}")
            for key in sorted(wrong):
                print(f"  - expected {key}: {expected[key]}")
                print(f"  + actual   {key}: {actual[key]}")
            for reason in decision.reasons:
                print(f"    reason: {reason}")
        else:
            print(f"ok   {name}")
    print(f"{len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


def _explain(args: argparse.Namespace) -> int:
    engine = Engine(_load(args.file), cache_size=0)
    request = _request(load_document(args.request), str(args.request))
    print(engine.explain(**request).render())
    return 0


def _passphrase(args: argparse.Namespace, data: bytes) -> Secret[str] | None:
    if b"ENCRYPTED PRIVATE KEY" not in data:
        return None
    value = os.environ.get(args.passphrase_env)
    if value:
        return Secret(value)
    # Never block a script on a prompt: without a terminal, say what to set.
    if not sys.stdin.isatty():
        raise PolicyConfigError(
            f"the key is encrypted: set {args.passphrase_env} to its passphrase"
        )
    return Secret(getpass.getpass("key passphrase: "))


def _sign(args: argparse.Namespace) -> int:
    from meshsec.tokens import SigningKey

    try:
        data = args.key.read_bytes()
    except OSError as exc:
        raise PolicyConfigError(f"cannot read key {args.key}: {exc.strerror}") from None
    key = SigningKey.from_pem(data, passphrase=_passphrase(args, data))
    bundle = _load(args.file).to_bundle(key)
    if args.output is None:
        sys.stdout.write(bundle.decode("utf-8"))
    else:
        args.output.write_bytes(bundle)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
