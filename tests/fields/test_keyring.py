"""Keyrings: versions, rotation, retirement, wrapped serialization, KEK rotation."""

from __future__ import annotations

import json
import pickle

import pytest

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.errors import ConfigError
from meshsec.fields import (
    DecryptionError,
    FieldCipher,
    KeyProvider,
    Keyring,
    KeyringError,
    LocalKeyProvider,
    WrappedKey,
)
from tests.fields.conftest import CONTEXT


def test_rotation_across_three_versions_all_decrypt(keyring: Keyring, clock: FrozenClock) -> None:
    cipher = FieldCipher(keyring)
    boxes = {}
    for version in (1, 2, 3):
        if version > 1:
            clock.advance(3600)
            keyring.rotate()
        boxes[version] = cipher.encrypt(f"v{version}", field="f", context=CONTEXT)
        assert boxes[version].startswith(f"ms1.orders-v{version}.")
    assert keyring.key_ids == ("orders-v3", "orders-v2", "orders-v1")
    assert {v: cipher.decrypt(b, field="f", context=CONTEXT) for v, b in boxes.items()} == {
        1: "v1",
        2: "v2",
        3: "v3",
    }
    created = [info.created_at for info in keyring.info()]
    assert created == [1_800_007_200.0, 1_800_003_600.0, 1_800_000_000.0]


def test_retired_key_envelopes_fail_with_the_decryption_error(keyring: Keyring) -> None:
    cipher = FieldCipher(keyring)
    old = cipher.encrypt("old", field="f", context=CONTEXT)
    keyring.rotate()
    keyring.retire("orders-v1")
    with pytest.raises(DecryptionError) as caught:
        cipher.decrypt(old, field="f", context=CONTEXT)
    assert "retired" in caught.value.message
    assert keyring.key_ids == ("orders-v2",)


def test_primary_cannot_be_retired(keyring: Keyring) -> None:
    with pytest.raises(KeyringError, match="rotate"):
        keyring.retire("orders-v1")


def test_unknown_key_cannot_be_retired(keyring: Keyring) -> None:
    with pytest.raises(KeyringError):
        keyring.retire("orders-v7")


def test_rotate_and_retire_emit_key_events(keyring: Keyring) -> None:
    with audit.capture() as events:
        new = keyring.rotate()
        keyring.retire("orders-v1")
    assert [(e.category, e.action, e.target) for e in events] == [
        (audit.Category.KEY, "fields.key.rotate", new),
        (audit.Category.KEY, "fields.key.retire", "orders-v1"),
    ]


@pytest.mark.parametrize("name", ["", "a.b", "-x", "x" * 33, "név", 5])
def test_bad_keyring_names_are_refused(name: object) -> None:
    with pytest.raises(KeyringError):
        Keyring.generate(name)  # type: ignore[arg-type]


def test_wrapped_round_trip_keeps_keys_counts_and_primary(keyring: Keyring) -> None:
    provider = LocalKeyProvider.generate()
    cipher = FieldCipher(keyring)
    old = cipher.encrypt("old", field="f", context=CONTEXT)
    keyring.rotate()
    text = keyring.to_wrapped_json(provider)
    loaded = Keyring.from_wrapped(text, provider)
    assert loaded.key_ids == keyring.key_ids
    assert loaded.info() == keyring.info()
    assert FieldCipher(loaded).decrypt(old, field="f", context=CONTEXT) == "old"
    assert Keyring.from_wrapped(json.loads(text), provider).primary_id == "orders-v2"


def test_wrapped_form_holds_no_plain_key(keyring: Keyring) -> None:
    provider = LocalKeyProvider.generate()
    doc = json.dumps(keyring.to_wrapped(provider))
    material = keyring._primary.material.reveal()
    from meshsec.fields._b64 import b64e

    assert b64e(material) not in doc
    assert material.hex() not in doc


def test_wrong_master_key_cannot_load(keyring: Keyring) -> None:
    doc = keyring.to_wrapped(LocalKeyProvider.generate())
    with pytest.raises(KeyringError, match="unwrap"):
        Keyring.from_wrapped(doc, LocalKeyProvider.generate())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(primary="orders-v1"),
        lambda d: d["keys"][0].update(uses=0),
        lambda d: d.update(usage_limit=2**40),
        lambda d: d["keys"][0].update(created_at=1.0),
    ],
)
def test_altered_metadata_is_detected(keyring: Keyring, tamper) -> None:  # type: ignore[no-untyped-def]
    provider = LocalKeyProvider.generate()
    FieldCipher(keyring).encrypt("x", field="f", context={})
    keyring.rotate()
    FieldCipher(keyring).encrypt("x", field="f", context={})
    doc = keyring.to_wrapped(provider)
    tamper(doc)
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(doc, provider)


def test_wrapped_keys_swapped_between_ids_fail(keyring: Keyring) -> None:
    provider = LocalKeyProvider.generate()
    keyring.rotate()
    doc = keyring.to_wrapped(provider)
    first, second = doc["keys"]
    first["wrapped"], second["wrapped"] = second["wrapped"], first["wrapped"]
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(doc, provider)


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        json.dumps({"format": "other"}),
        json.dumps({"format": "meshsec.keyring/1", "name": "x", "usage_limit": 1, "keys": []}),
        json.dumps(
            {
                "format": "meshsec.keyring/1",
                "name": "x",
                "usage_limit": 1,
                "primary": "x-v1",
                "keys": [{"id": "x-v1", "version": 1, "uses": 0, "created_at": 0, "kek_id": "k"}],
            }
        ),
        json.dumps(
            {
                "format": "meshsec.keyring/1",
                "name": "x",
                "usage_limit": 1,
                "primary": "x-v1",
                "keys": ["nope"],
            }
        ),
    ],
)
def test_malformed_wrapped_keyrings_fail_typed(doc: str) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(doc, LocalKeyProvider.generate())


def test_kek_rotation_rewraps_without_touching_data(keyring: Keyring) -> None:
    old_kek = LocalKeyProvider.generate()
    box = FieldCipher(keyring).encrypt("card", field="f", context=CONTEXT)
    stored = keyring.to_wrapped(old_kek)
    new_master = LocalKeyProvider.new_master_key()
    both = LocalKeyProvider(new_master, previous=[old_kek.export_master_key()])
    assert both.kek_ids == (both.kek_id, old_kek.kek_id)
    rewrapped = Keyring.from_wrapped(stored, both).to_wrapped(both)
    assert {k["kek_id"] for k in rewrapped["keys"]} == {both.kek_id}
    only_new = LocalKeyProvider(new_master)
    loaded = Keyring.from_wrapped(rewrapped, only_new)
    assert FieldCipher(loaded).decrypt(box, field="f", context=CONTEXT) == "card"


def test_master_key_from_env_and_file(
    keyring: Keyring, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    master = LocalKeyProvider.new_master_key()
    monkeypatch.setenv("MESHSEC_MASTER_KEY", master.reveal())
    path = tmp_path / "master.key"
    path.write_text(master.reveal() + "\n", encoding="ascii")
    from_env, from_file = LocalKeyProvider.from_env(), LocalKeyProvider.from_file(path)
    assert from_env.kek_id == from_file.kek_id
    doc = keyring.to_wrapped(from_env)
    assert Keyring.from_wrapped(doc, from_file).primary_id == "orders-v1"


@pytest.mark.parametrize("text", ["", "msk1:", "msk1:abc", "AAAA" * 11, "msk1:" + "A" * 44])
def test_malformed_master_keys_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LocalKeyProvider(text)
    assert text[5:] not in caught.value.message or not text[5:]


def test_missing_env_var_and_file_are_config_errors(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("MESHSEC_TEST_NO_KEY", raising=False)
    with pytest.raises(ConfigError):
        LocalKeyProvider.from_env("MESHSEC_TEST_NO_KEY")
    with pytest.raises(ConfigError):
        LocalKeyProvider.from_file(tmp_path / "absent")


def test_local_provider_is_a_key_provider() -> None:
    assert isinstance(LocalKeyProvider.generate(), KeyProvider)


def test_unwrap_rejects_unknown_kek_and_short_blobs() -> None:
    provider = LocalKeyProvider.generate()
    wrapped = provider.wrap(b"k" * 32, context={"a": "b"})
    with pytest.raises(KeyringError):
        provider.unwrap(
            WrappedKey(kek_id="other", ciphertext=wrapped.ciphertext), context={"a": "b"}
        )
    with pytest.raises(KeyringError):
        provider.unwrap(WrappedKey(kek_id=wrapped.kek_id, ciphertext=b"x"), context={"a": "b"})
    with pytest.raises(KeyringError):
        provider.unwrap(wrapped, context={"a": "c"})
    assert provider.unwrap(wrapped, context={"a": "b"}) == b"k" * 32


def test_reprs_show_no_key_material(keyring: Keyring) -> None:
    provider = LocalKeyProvider.generate()
    master = provider.export_master_key().reveal()
    material = keyring._primary.material.reveal()
    wrapped = provider.wrap(material, context={})
    for text in (repr(keyring), str(keyring), repr(provider), repr(wrapped), repr(keyring.info())):
        assert master not in text
        assert master[5:] not in text
        assert material.hex() not in text
        assert repr(material)[2:-1] not in text
    assert repr(provider.export_master_key()) == "Secret('[REDACTED]')"
    for thing in (keyring, provider):
        with pytest.raises(TypeError):
            pickle.dumps(thing)


def test_custom_provider_fits_the_protocol(keyring: Keyring) -> None:
    class XorDemoProvider:  # stands in for a KMS: opaque blob, key id inside the result
        kek_id = "demo-kek-1"

        def wrap(self, data_key: bytes, *, context):  # type: ignore[no-untyped-def]
            tag = json.dumps(context, sort_keys=True).encode()
            return WrappedKey(
                kek_id=self.kek_id, ciphertext=bytes(b ^ 0x5A for b in data_key) + tag
            )

        def unwrap(self, wrapped: WrappedKey, *, context):  # type: ignore[no-untyped-def]
            tag = json.dumps(context, sort_keys=True).encode()
            if not wrapped.ciphertext.endswith(tag):
                raise KeyringError("context mismatch")
            return bytes(b ^ 0x5A for b in wrapped.ciphertext[: -len(tag)])

    provider = XorDemoProvider()
    assert isinstance(provider, KeyProvider)
    loaded = Keyring.from_wrapped(keyring.to_wrapped(provider), provider)
    assert loaded.key_ids == keyring.key_ids


def test_usage_is_counted_exactly_under_threads() -> None:
    import threading

    keyring = Keyring.generate("busy", usage_limit=1000)
    cipher = FieldCipher(keyring)
    failures: list[Exception] = []

    def work() -> None:
        for _ in range(150):
            try:
                cipher.encrypt("v", field="f", context={})
            except Exception as exc:
                failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert keyring.info()[0].uses == 1000
    assert len(failures) == 8 * 150 - 1000
    assert all(type(f).__name__ == "KeyUsageExceededError" for f in failures)
