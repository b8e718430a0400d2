"""Issue 3, conformance: keyrings, key providers, FieldCipher and Tokenizer called
exactly as the issue writes them."""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pytest

from meshsec.errors import ConfigError, FieldError, MeshsecError
from meshsec.fields import (
    DecryptionError,
    FieldCipher,
    KeyProvider,
    Keyring,
    KeyringError,
    KeyUsageExceededError,
    LocalKeyProvider,
    Tokenizer,
    UnsupportedValueError,
    WrappedKey,
)

CONTEXT = {"tenant": "acme", "record_id": "r-1"}

# -- Keyring ------------------------------------------------------------------------------


def test_keyring_rotate_and_retire_key_id() -> None:
    keyring = Keyring.generate("crm")
    first = keyring.primary_id
    second = keyring.rotate()
    assert keyring.primary_id == second != first
    assert set(keyring.key_ids) == {first, second}
    keyring.retire(first)
    assert keyring.key_ids == (second,)
    with pytest.raises(KeyringError):
        keyring.retire(second)  # the primary


def test_keyring_is_serialized_only_in_wrapped_form() -> None:
    keyring = Keyring.generate("crm")
    with pytest.raises(TypeError):
        pickle.dumps(keyring)
    public = [n for n in dir(keyring) if not n.startswith("_")]
    assert not [n for n in public if re.search(r"json|dict|export|bytes", n) and "wrap" not in n]
    provider = LocalKeyProvider.generate()
    text = keyring.to_wrapped_json(provider)
    material = keyring._get_primary().material.reveal()
    for spelling in (material.hex(), base64.b64encode(material).decode(), _b64url(material)):
        assert spelling not in text
    assert Keyring.from_wrapped(text, provider).primary_id == keyring.primary_id


def test_keys_are_aes_256() -> None:
    keyring = Keyring.generate("crm")
    assert len(keyring._get_primary().material.reveal()) == 32


# -- KeyProvider, LocalKeyProvider -----------------------------------------------------------


class _DictKms:
    """A provider the way a KMS adapter is written: opaque blobs, context bound by the service."""

    kek_id = "kms-key-1"

    def __init__(self) -> None:
        self._store: dict[bytes, tuple[bytes, str]] = {}

    def wrap(self, data_key: bytes, *, context: Mapping[str, str]) -> WrappedKey:
        handle = os.urandom(16)
        self._store[handle] = (data_key, json.dumps(dict(context), sort_keys=True))
        return WrappedKey(kek_id=self.kek_id, ciphertext=handle)

    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        key, bound = self._store.get(wrapped.ciphertext, (b"", ""))
        if not key or bound != json.dumps(dict(context), sort_keys=True):
            raise KeyringError("cannot unwrap")
        return key


def test_key_provider_protocol_fits_a_kms_adapter_unchanged() -> None:
    kms = _DictKms()
    assert isinstance(kms, KeyProvider)
    assert isinstance(LocalKeyProvider.generate(), KeyProvider)
    keyring = Keyring.generate("crm")
    box = FieldCipher(keyring).encrypt("v", field="f", context=CONTEXT)
    loaded = Keyring.from_wrapped(keyring.to_wrapped(kms), kms)
    assert FieldCipher(loaded).decrypt(box, field="f", context=CONTEXT) == "v"


def test_local_provider_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    master = LocalKeyProvider.new_master_key()
    monkeypatch.setenv("MESHSEC_MASTER_KEY", master.reveal())
    monkeypatch.setenv("CONFORMANCE_KEK", master.reveal())
    assert LocalKeyProvider.from_env().kek_id == LocalKeyProvider.from_env("CONFORMANCE_KEK").kek_id


def test_local_provider_from_file_text_or_raw_bytes(tmp_path: Path) -> None:
    master = LocalKeyProvider.new_master_key()
    text_file = tmp_path / "master.txt"
    text_file.write_text(master.reveal() + "\n")
    raw_file = tmp_path / "master.bin"
    raw_file.write_bytes(base64.urlsafe_b64decode(master.reveal()[5:] + "="))
    assert (
        LocalKeyProvider.from_file(text_file).kek_id == LocalKeyProvider.from_file(raw_file).kek_id
    )


def test_local_provider_refuses_a_password_as_raw_key_file(tmp_path: Path) -> None:
    weak = tmp_path / "password.txt"
    weak.write_bytes(b"correct horse battery staple 123")  # 32 printable bytes: not a key
    with pytest.raises(ConfigError):
        LocalKeyProvider.from_file(weak)


def test_local_provider_wraps_with_aes_gcm_bound_to_context() -> None:
    provider = LocalKeyProvider.generate()
    wrapped = provider.wrap(b"k" * 32, context={"keyring": "a", "key_id": "a-v1"})
    assert len(wrapped.ciphertext) == 12 + 32 + 16  # nonce, key, GCM tag
    assert provider.unwrap(wrapped, context={"keyring": "a", "key_id": "a-v1"}) == b"k" * 32
    with pytest.raises(KeyringError):
        provider.unwrap(wrapped, context={"keyring": "a", "key_id": "a-v2"})


# -- FieldCipher ----------------------------------------------------------------------------


def test_field_cipher_encrypt_returns_str_and_decrypt_takes_envelope_positionally() -> None:
    cipher = FieldCipher(Keyring.generate("crm"))
    envelope = cipher.encrypt("4111", field="card.number", context=CONTEXT)
    assert isinstance(envelope, str)
    assert cipher.decrypt(envelope, field="card.number", context=CONTEXT) == "4111"


def test_envelope_is_versioned_self_describing_base64url() -> None:
    keyring = Keyring.generate("crm")
    envelope = FieldCipher(keyring).encrypt("x", field="f", context=CONTEXT)
    version, key_id, nonce, body = envelope.split(".")
    assert version == "ms1"
    assert key_id == keyring.primary_id
    assert len(_unb64url(nonce)) == 12
    assert len(_unb64url(body)) == len(b"sx") + 16  # type tag + value + GCM-SIV tag
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", envelope)


def test_envelope_is_json_and_sql_safe() -> None:
    cipher = FieldCipher(Keyring.generate("crm"))
    envelope = cipher.encrypt({"a": "'; DROP TABLE t; --"}, field="f", context=CONTEXT)
    assert json.dumps(envelope) == f'"{envelope}"'  # no escaping needed
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute(f"INSERT INTO t VALUES ('{envelope}')")  # the point: no quoting
        (stored,) = db.execute("SELECT v FROM t").fetchone()
    db.close()
    assert cipher.decrypt(stored, field="f", context=CONTEXT) == {"a": "'; DROP TABLE t; --"}


@pytest.mark.parametrize(
    "value",
    ["7", 7, 7.0, -0.0, 1e300, True, False, None, "", [1, "1", None], {"a": [True, {"b": 0.5}]}],
)
def test_json_types_round_trip_with_their_type(value: object) -> None:
    cipher = FieldCipher(Keyring.generate("crm"))
    out = cipher.decrypt(
        cipher.encrypt(value, field="f", context=CONTEXT), field="f", context=CONTEXT
    )
    assert out == value
    assert type(out) is type(value)
    assert json.dumps(out) == json.dumps(value)


def test_associated_data_binds_field_and_record_context() -> None:
    cipher = FieldCipher(Keyring.generate("crm"))
    envelope = cipher.encrypt("v", field="a", context=CONTEXT)
    with pytest.raises(DecryptionError):
        cipher.decrypt(envelope, field="b", context=CONTEXT)
    with pytest.raises(DecryptionError):
        cipher.decrypt(envelope, field="a", context={**CONTEXT, "record_id": "r-2"})
    with pytest.raises(DecryptionError):
        cipher.decrypt(envelope, field="a", context={**CONTEXT, "tenant": "globex"})


def test_one_decryption_error_for_every_cause() -> None:
    keyring = Keyring.generate("crm")
    cipher = FieldCipher(keyring)
    envelope = cipher.encrypt("secret-value", field="f", context=CONTEXT)
    other = FieldCipher(Keyring.generate("crm")).encrypt("x", field="f", context=CONTEXT)
    version, key_id, nonce, body = envelope.split(".")
    causes = {
        "wrong key": other,
        "unknown key id": f"{version}.crm-v9.{nonce}.{body}",
        "tampered": f"{version}.{key_id}.{nonce}.{_flip(body, -2)}",
        "truncated": envelope[:-3],
        "extended": envelope + "AAAA",
        "swapped": cipher.encrypt("x", field="g", context=CONTEXT),
    }
    messages = set()
    for cause, bad in causes.items():
        with pytest.raises(DecryptionError) as caught:
            cipher.decrypt(bad, field="f", context=CONTEXT)
        assert caught.value.code == "field.decryption_failed", cause
        messages.add(str(caught.value))
    assert len(messages) == 1
    assert "secret-value" not in messages.pop()


def test_unsupported_values_raise_field_error_with_the_field_path() -> None:
    cipher = FieldCipher(Keyring.generate("crm"))
    for value in (b"bytes", {1, 2}, (1, 2), float("nan"), {1: "x"}, object()):
        with pytest.raises(FieldError) as caught:
            cipher.encrypt(value, field="customer.blob", context=CONTEXT)
        assert isinstance(caught.value, UnsupportedValueError)
        assert caught.value.code == "field.unsupported_value"
        assert caught.value.field == caught.value.path == "customer.blob"
        assert "customer.blob" in str(caught.value)


def test_usage_bound_forces_rotation_with_a_small_bound() -> None:
    keyring = Keyring.generate("crm", usage_limit=3)
    cipher = FieldCipher(keyring)
    boxes = [cipher.encrypt(i, field="f", context=CONTEXT) for i in range(3)]
    with pytest.raises(KeyUsageExceededError) as caught:
        cipher.encrypt(3, field="f", context=CONTEXT)
    assert caught.value.code == "field.key_usage_exceeded"
    assert isinstance(caught.value, FieldError)
    keyring.rotate()
    assert cipher.encrypt(3, field="f", context=CONTEXT)
    assert [cipher.decrypt(b, field="f", context=CONTEXT) for b in boxes] == [0, 1, 2]


def test_usage_bound_must_stay_below_two_to_the_32() -> None:
    with pytest.raises(KeyringError):
        Keyring.generate("crm", usage_limit=2**32 + 1)
    assert Keyring.generate("crm").usage_limit < 2**32


def test_key_selection_is_by_key_id_never_by_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = Keyring.generate("crm")
    cipher = FieldCipher(keyring)
    for _ in range(3):
        keyring.rotate()
    envelope = cipher.encrypt("v", field="f", context=CONTEXT)
    opened: list[str] = []
    original = Keyring._derived

    def spy(self: Keyring, key, purpose, field, build, size=32):  # type: ignore[no-untyped-def]
        opened.append(key.key_id)
        return original(self, key, purpose, field, build, size)

    monkeypatch.setattr(Keyring, "_derived", spy)
    relabelled = envelope.replace(keyring.primary_id, "crm-v1", 1)
    with pytest.raises(DecryptionError):
        cipher.decrypt(relabelled, field="f", context=CONTEXT)
    assert opened == ["crm-v1"]  # only the key the envelope names was ever used


# -- Tokenizer ------------------------------------------------------------------------------


def test_tokenizer_default_mode_is_reversible_aes_siv() -> None:
    tokens = Tokenizer(Keyring.generate("crm"))
    token = tokens.tokenize("ada@example.com", field="email")
    assert token.startswith("mt1.")
    assert token == tokens.tokenize("ada@example.com", field="email")
    assert tokens.detokenize(token, field="email") == "ada@example.com"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reversible": False},
        {"mode": "irreversible"},
        {"reversible": False, "mode": "irreversible"},
    ],
)
def test_tokenizer_irreversible_mode_is_hmac_sha256(kwargs: dict[str, object]) -> None:
    tokens = Tokenizer(Keyring.generate("crm"), **kwargs)  # type: ignore[arg-type]
    token = tokens.tokenize("ada@example.com", field="email")
    assert token.startswith("mh1.")
    assert len(_unb64url(token.split(".")[2])) == 32
    with pytest.raises(FieldError):
        tokens.detokenize(token, field="email")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "hmac"},
        {"mode": "false"},
        {"mode": 0},
        {"reversible": True, "mode": "irreversible"},
    ],
)
def test_tokenizer_mode_is_never_guessed(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Tokenizer(Keyring.generate("crm"), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["reversible", "irreversible"])
def test_tokens_are_domain_separated_per_field(mode: str) -> None:
    tokens = Tokenizer(Keyring.generate("crm"), mode=mode)
    a = tokens.tokenize("same", field="customer.email")
    b = tokens.tokenize("same", field="billing.email")
    assert a.split(".")[2] != b.split(".")[2]


@pytest.mark.parametrize("mode", ["reversible", "irreversible"])
def test_search_tokens_cover_every_retained_version(mode: str) -> None:
    keyring = Keyring.generate("crm")
    tokens = Tokenizer(keyring, mode=mode)
    before = tokens.tokenize("ada", field="email")
    keyring.rotate()
    after = tokens.tokenize("ada", field="email")
    found = tokens.search_tokens("ada", field="email")
    assert isinstance(found, list)
    assert found[0] == after
    assert set(found) == {before, after}
    assert len(found) == len(keyring.key_ids)


# -- repr secrecy -----------------------------------------------------------------------------


def test_reprs_of_keyrings_ciphers_tokenizers_and_providers_show_no_key_material() -> None:
    provider = LocalKeyProvider.generate()
    keyring = Keyring.generate("crm")
    material = keyring._get_primary().material.reveal()
    master = provider.export_master_key().reveal()
    for obj in (keyring, FieldCipher(keyring), Tokenizer(keyring), provider, _DictKms()):
        for text in (repr(obj), str(obj)):
            for secret in (material.hex(), _b64url(material), master, master[5:]):
                assert secret not in text


def test_errors_are_meshsec_errors_with_stable_codes() -> None:
    expected = {
        DecryptionError: "field.decryption_failed",
        KeyUsageExceededError: "field.key_usage_exceeded",
        KeyringError: "field.keyring_invalid",
        UnsupportedValueError: "field.unsupported_value",
    }
    for error, code in expected.items():
        assert issubclass(error, FieldError)
        assert issubclass(error, MeshsecError)
        assert error.code == code


def _flip(text: str, at: int) -> str:
    chars = list(text)
    chars[at] = "A" if chars[at] != "A" else "B"
    return "".join(chars)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_keyring_constructor_makes_a_fresh_keyring_like_generate() -> None:
    assert Keyring().primary_id == "default-v1"
    keyring = Keyring("orders", usage_limit=5)
    assert (keyring.primary_id, keyring.usage_limit) == ("orders-v1", 5)
    assert (
        keyring._get_primary().material.reveal()
        != Keyring("orders")._get_primary().material.reveal()
    )
    with pytest.raises(KeyringError):
        Keyring("not.a.name")
    with pytest.raises(KeyringError):
        Keyring("orders", usage_limit=0)
