"""Signed policy bundles: only a valid detached JWS by a trusted key is accepted."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit
from meshsec.policy import Engine, PolicyBundleError, PolicySet, PolicyStore
from meshsec.tokens import KeySet, SigningKey

from .helpers import policy, rule

POLICY = policy(rule("a", resources=["doc:*"]), rule("d", "deny", resources=["doc:secret"]))


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def trusted(key) -> KeySet:
    return KeySet([key.public()])


def _write(tmp_path, data: bytes, name: str = "bundle.json"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_signed_bundle_round_trips(tmp_path, key, trusted) -> None:
    path = _write(tmp_path, POLICY.to_bundle(key))
    loaded = PolicySet.from_bundle(path, keys=trusted)
    assert loaded == POLICY
    assert loaded.version_id == POLICY.version_id


def _tamper_policy(bundle: dict) -> None:
    bundle["policy"] = bundle["policy"].replace('"deny"', '"allow"')


def _tamper_signature(bundle: dict) -> None:
    head, _, sig = bundle["signature"].split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[0] ^= 1
    bundle["signature"] = head + ".." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _alg_none(bundle: dict) -> None:
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": "meshsec-policy+jws"}).encode()
    )
    bundle["signature"] = header.decode().rstrip("=") + ".."


def _attached_payload(bundle: dict) -> None:
    head, _, sig = bundle["signature"].split(".")
    payload = base64.urlsafe_b64encode(b'{"version":1,"rules":[]}').decode().rstrip("=")
    bundle["signature"] = f"{head}.{payload}.{sig}"


def _unsigned(bundle: dict) -> None:
    bundle["signature"] = ""


@pytest.mark.parametrize(
    "tamper", [_tamper_policy, _tamper_signature, _alg_none, _attached_payload, _unsigned]
)
def test_tampered_bundles_rejected(tmp_path, key, trusted, tamper) -> None:
    bundle = json.loads(POLICY.to_bundle(key))
    tamper(bundle)
    path = _write(tmp_path, json.dumps(bundle).encode())
    with pytest.raises(PolicyBundleError) as info:
        PolicySet.from_bundle(path, keys=trusted)
    assert info.value.code == "policy.bad_bundle"


def test_plain_policy_document_is_not_a_bundle(tmp_path, trusted) -> None:
    path = _write(tmp_path, POLICY.canonical)
    with pytest.raises(PolicyBundleError, match="not a signed policy bundle"):
        PolicySet.from_bundle(path, keys=trusted)


def test_bundle_signed_by_untrusted_key_rejected(tmp_path, trusted) -> None:
    path = _write(tmp_path, POLICY.to_bundle(SigningKey.generate()))
    with audit.capture() as events, pytest.raises(PolicyBundleError):
        PolicySet.from_bundle(path, keys=trusted)
    assert any(e.category == audit.Category.TOKEN for e in events)


def test_signature_failures_share_one_message(tmp_path, key, trusted) -> None:
    messages = set()
    for tamper in (_tamper_policy, _tamper_signature, _alg_none):
        bundle = json.loads(POLICY.to_bundle(key))
        tamper(bundle)
        with pytest.raises(PolicyBundleError) as info:
            PolicySet.from_bundle(_write(tmp_path, json.dumps(bundle).encode()), keys=trusted)
        messages.add(str(info.value))
    assert len(messages) == 1


def test_store_keeps_last_good_on_badly_signed_update(tmp_path, key, trusted) -> None:
    path = _write(tmp_path, POLICY.to_bundle(key))
    store = PolicyStore(path, keys=trusted)
    eng = Engine(store)
    assert eng.decide("u", "read", "doc:1").allowed
    evil = policy(rule("a", resources=["*"]))
    path.write_bytes(evil.to_bundle(SigningKey.generate()) + b" ")
    with audit.capture() as events:
        assert store.poll() is False
    assert store.current == POLICY
    failure = next(e for e in events if e.category == audit.Category.CONFIGURATION)
    assert failure.outcome == audit.Outcome.FAILURE
    assert failure.reason == "policy.bad_bundle"
    newer = policy(rule("a", resources=["doc:1"]))
    path.write_bytes(newer.to_bundle(key))
    assert store.poll() is True
    assert store.current == newer


_SIGNER = SigningKey.generate()
_TRUST = KeySet([_SIGNER.public()])


@given(
    st.lists(
        st.builds(
            lambda i, effect, res: rule(f"r{i}", effect, resources=[res]),
            st.integers(0, 50),
            st.sampled_from(["allow", "deny"]),
            st.sampled_from(["doc:*", "img:1", "*", "http:/a/*", "x:\u00e9\u4e2d"]),
        ),
        max_size=6,
        unique_by=lambda r: r["id"],
    )
)
def test_bundle_round_trip_property(tmp_path_factory, rules) -> None:
    original = policy(*rules)
    path = tmp_path_factory.mktemp("b") / "bundle.json"
    path.write_bytes(original.to_bundle(_SIGNER))
    assert PolicySet.from_bundle(path, keys=_TRUST) == original


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"format": "meshsec-policy-bundle/2", "policy": "{}", "signature": "a..b"}',
        b'{"format": "meshsec-policy-bundle/1", "policy": {}, "signature": "a..b"}',
        b'{"format": "meshsec-policy-bundle/1", "policy": "{}", "signature": "a..b", "x": 1}',
    ],
)
def test_malformed_bundles_rejected(tmp_path, trusted, data) -> None:
    with pytest.raises(PolicyBundleError):
        PolicySet.from_bundle(_write(tmp_path, data), keys=trusted)


def test_missing_bundle_file(tmp_path, trusted) -> None:
    from meshsec.policy import PolicyConfigError

    with pytest.raises(PolicyConfigError):
        PolicySet.from_bundle(tmp_path / "nope.json", keys=trusted)


def test_public_key_cannot_sign(tmp_path, key) -> None:
    with pytest.raises(PolicyBundleError):
        POLICY.to_bundle(key.public())
