"""Red team: hostile policy documents and forged bundles are typed errors, nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.policy import PolicyBundleError, PolicyConfigError, PolicySet
from meshsec.tokens import KeySet, SigningKey

from .helpers import policy, rule

ALLOW_ALL = {
    "id": "a",
    "effect": "allow",
    "principals": ["*"],
    "actions": ["*"],
    "resources": ["*"],
}


def _doc(**rule_fields: Any) -> dict[str, Any]:
    return {"version": 1, "rules": [{**ALLOW_ALL, **rule_fields}]}


@pytest.mark.parametrize(
    "document",
    [
        _doc(when=[{"attr": "context.x", "op": "eq", "value": 10**5000}]),
        _doc(when=[{"attr": "context.x", "op": "in", "value": [1, 10**5000]}]),
        _doc(id="\ud800"),
        _doc(principals=["\udfff*"]),
        _doc(when=[{"attr": "context.\ud800", "op": "exists"}]),
        _doc(obligations={"\ud800": 1}),
        _doc(obligations={"n": 10**5000}),
    ],
)
def test_unwritable_documents_are_typed_errors(document: dict[str, Any]) -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicySet.from_dict(document)
    assert info.value.code == "policy.invalid"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 20_000 + "]" * 20_000,
        "a: " + "{b: " * 5_000 + "1" + "}" * 5_000,
        "? [a, b]\n: 1\nversion: 1\nrules: []\n",
        "? {a: 1}\n: 1\n",
        "version: 1\nrules: !!python/object/apply:os.system ['echo pwned']\n",
        "version: 1\nrules: []\nname: !!python/name:os.system\n",
        "version: 1\nrules: []\nname: !!binary aGVsbG8=\n",
        "version: 1\nrules: []\nname: !custom x\n",
        "version: 1\nrules: []\n---\nversion: 2\n",
    ],
)
def test_hostile_yaml_is_a_typed_error(text: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicySet.from_yaml(text)
    assert info.value.code == "policy.invalid"


def test_yaml_python_tag_never_executes(tmp_path) -> None:
    marker = tmp_path / "pwned"
    text = f"version: 1\nrules: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(PolicyConfigError):
        PolicySet.from_yaml(text)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"version": "1", "rules": []}, "policy.version"),
        ({"version": 2, "rules": []}, "policy.version"),
        ({"version": True, "rules": []}, "policy.version"),
        ({"version": 1, "rules": {}}, "policy.rules"),
        ({"version": 1, "rules": [], "extra": 1}, "unknown field 'extra'"),
        (_doc(effect="Allow"), "'a'.effect"),
        (_doc(effect="permit"), "'a'.effect"),
        (_doc(principals="*"), "'a'.principals"),
        (_doc(actions=[]), "'a'.actions"),
        (_doc(when={"attr": "context.x", "op": "exists"}), "'a'.when"),
        (_doc(when=[{"attr": "context.x", "op": "regex", "value": "."}]), "'a'.when[0].op"),
        (_doc(when=[{"attr": "context.x", "op": "exists", "negate": True}]), "'negate'"),
        (_doc(when=[{"attr": "request.x", "op": "exists"}]), "'a'.when[0]"),
        (_doc(when=[{"attr": "context..x", "op": "exists"}]), "'a'.when[0]"),
        (_doc(when=[{"attr": "context.t", "op": "between", "value": ["8:00", "18:00"]}]), "when"),
        (
            _doc(
                when=[
                    {"attr": "context.t", "op": "between", "value": ["08:00", "18:00"], "tz": "X/Y"}
                ]
            ),
            "'a'.when[0].tz",
        ),
        (
            _doc(
                when=[
                    {
                        "attr": "context.t",
                        "op": "between",
                        "value": ["08:00", "18:00"],
                        "tz": "../../../etc/passwd",
                    }
                ]
            ),
            "'a'.when[0].tz",
        ),
        (_doc(when=[{"attr": "context.ip", "op": "in_cidr", "value": ["10.0.0.1/8"]}]), "CIDR"),
        (_doc(when=[{"attr": "context.x", "op": "in", "value": [True, 1]}]), "one type"),
        (_doc(when=[{"attr": "context.x", "op": "exists", "value": 1}]), "true or false"),
        ({"version": 1, "rules": [ALLOW_ALL, ALLOW_ALL]}, "duplicate rule id"),
    ],
)
def test_invalid_documents_name_what_is_wrong(document: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        PolicySet.from_dict(document)
    assert field in str(info.value)


def test_json_duplicate_keys_inside_a_condition_are_rejected() -> None:
    text = json.dumps(_doc(when=[{"attr": "context.x", "op": "eq", "value": 1}]))
    text = text.replace('"value": 1', '"value": 1, "value": 2')
    with pytest.raises(PolicyConfigError, match="repeats the key 'value'"):
        PolicySet.from_json(text)


def test_document_just_over_the_size_limit_is_refused_before_parsing() -> None:
    text = '{"version": 1, "rules": [], "name": "' + "x" * (16 * 1024 * 1024) + '"}'
    with pytest.raises(PolicyConfigError, match="16 MiB"):
        PolicySet.from_json(text)


# -- signed bundles ----------------------------------------------------------

POLICY = policy(rule("a", resources=["doc:*"]), rule("d", "deny", resources=["doc:secret"]))


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def trusted(key: SigningKey) -> KeySet:
    return KeySet([key.public()])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _load(tmp_path, bundle: dict[str, Any] | bytes, keys: KeySet) -> PolicySet:
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode())
    return PolicySet.from_bundle(path, keys=keys)


def test_bundle_outer_whitespace_does_not_matter(tmp_path, key, trusted) -> None:
    bundle = json.loads(POLICY.to_bundle(key))
    compact = json.dumps(bundle, separators=(",", ":")).encode()
    spaced = b"\n\n  " + json.dumps(bundle, indent=8).encode() + b"\n\t\n"
    assert _load(tmp_path, compact, trusted) == POLICY
    assert _load(tmp_path, spaced, trusted).version_id == POLICY.version_id


def test_whitespace_inside_the_signed_policy_breaks_the_signature(tmp_path, key, trusted) -> None:
    bundle = json.loads(POLICY.to_bundle(key))
    bundle["policy"] = bundle["policy"] + " "
    with pytest.raises(PolicyBundleError):
        _load(tmp_path, bundle, trusted)


def test_wrong_typ_is_rejected(tmp_path, key, trusted) -> None:
    bundle = json.loads(POLICY.to_bundle(key))
    bundle["signature"] = key.sign_detached(POLICY.canonical, typ="JWT")
    with pytest.raises(PolicyBundleError):
        _load(tmp_path, bundle, trusted)


def test_hs256_signed_with_the_public_key_is_rejected(tmp_path, key, trusted) -> None:
    # Algorithm confusion: an attacker "signs" with the public key as an HMAC secret.
    header = _b64(
        json.dumps({"alg": "HS256", "kid": key.kid, "typ": "meshsec-policy+jws"}).encode()
    )
    payload = POLICY.canonical
    for secret in (key.public_pem(), key.public_pem().strip()):
        mac = hmac.new(secret, f"{header}.{_b64(payload)}".encode(), hashlib.sha256).digest()
        bundle = json.loads(POLICY.to_bundle(key))
        bundle["signature"] = f"{header}..{_b64(mac)}"
        with pytest.raises(PolicyBundleError):
            _load(tmp_path, bundle, trusted)


def test_jwk_header_injection_is_rejected(tmp_path, trusted) -> None:
    attacker = SigningKey.generate()
    bundle = json.loads(POLICY.to_bundle(attacker))
    header = json.loads(base64.urlsafe_b64decode(bundle["signature"].split(".")[0] + "=="))
    header["jwk"] = attacker.public().to_jwk()
    encoded = _b64(json.dumps(header).encode())
    bundle["signature"] = encoded + "." + bundle["signature"].split(".", 1)[1]
    with pytest.raises(PolicyBundleError):
        _load(tmp_path, bundle, trusted)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: {**b, "extra": 1},
        lambda b: {**b, "format": "meshsec-policy-bundle/2"},
        lambda b: {**b, "policy": json.loads(b["policy"])},
        lambda b: {**b, "signature": b["signature"].replace("..", ".e30.")},
        lambda b: {**b, "signature": ""},
        lambda b: {**b, "signature": "é..é"},
        lambda b: {k: v for k, v in b.items() if k != "signature"},
    ],
)
def test_malformed_bundles_fail_with_one_error(tmp_path, key, trusted, mutate) -> None:
    bundle = json.loads(POLICY.to_bundle(key))
    with pytest.raises(PolicyBundleError) as info:
        _load(tmp_path, mutate(bundle), trusted)
    assert info.value.code == "policy.bad_bundle"


def test_signed_but_invalid_policy_is_a_config_error(tmp_path, key, trusted) -> None:
    text = '{"version": 1, "rules": [], "rules": []}'
    bundle = {
        "format": "meshsec-policy-bundle/1",
        "policy": text,
        "signature": key.sign_detached(text.encode()),
    }
    with pytest.raises(PolicyConfigError, match="repeats the key"):
        _load(tmp_path, bundle, trusted)


@given(st.binary(max_size=200))
def test_random_bytes_are_never_a_bundle(data: bytes) -> None:
    from meshsec.policy._bundle import bundle_from_bytes

    with pytest.raises((PolicyBundleError, PolicyConfigError)):
        bundle_from_bytes(data, KeySet([SigningKey.generate().public()]))


@pytest.mark.parametrize("keys", [None, "jwks", [], "public-key"])
def test_bundle_keys_must_be_a_keyset(tmp_path, key, keys) -> None:
    if keys == "public-key":
        keys = key.public()
    with pytest.raises(PolicyConfigError, match="KeySet"):
        _load(tmp_path, POLICY.to_bundle(key), keys)
