"""Red team: wrapped keyring tampering and key material in repr, str, pickle and copy."""

from __future__ import annotations

import base64
import copy
import json
import logging
import pickle
import types

import pytest

from meshsec.errors import ConfigError
from meshsec.fields import (
    FieldCipher,
    FieldProtector,
    Keyring,
    KeyringError,
    LocalKeyProvider,
    Tokenizer,
)

PROVIDER = LocalKeyProvider.generate()


def _material(keyring: Keyring) -> list[bytes]:
    return [keyring._get(k).material.reveal() for k in keyring.key_ids]  # type: ignore[union-attr]


def _spellings(raw: bytes) -> list[str]:
    return [
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        repr(raw)[2:-1],
    ]


def _used_keyring() -> Keyring:
    keyring = Keyring.generate("orders")
    cipher = FieldCipher(keyring)
    cipher.encrypt("x", field="f", context={})
    keyring.rotate()
    cipher.encrypt("y", field="f", context={})
    return keyring


# -- tampering ------------------------------------------------------------------------


def test_every_truncation_of_the_wrapped_json_is_a_keyring_error() -> None:
    text = _used_keyring().to_wrapped_json(PROVIDER)
    for end in range(len(text)):
        with pytest.raises(KeyringError):
            Keyring.from_wrapped(text[:end], PROVIDER)


def test_every_bit_flip_of_the_wrapped_json_is_a_keyring_error() -> None:
    text = _used_keyring().to_wrapped_json(PROVIDER)
    raw = text.encode("ascii")
    for position in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[position] ^= 1 << bit
            tampered = flipped.decode("latin-1")
            if _same_document(tampered, text):
                continue  # "...4005558" and "...4005559" parse to one float: nothing changed
            with pytest.raises(KeyringError):
                Keyring.from_wrapped(tampered, PROVIDER)


def _same_document(first: str, second: str) -> bool:
    try:
        return bool(json.loads(first) == json.loads(second))
    except ValueError:
        return False


def test_swapped_kek_fails() -> None:
    text = _used_keyring().to_wrapped_json(PROVIDER)
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(text, LocalKeyProvider.generate())


def test_key_entries_swapped_in_from_another_keyring_of_the_same_name_fail() -> None:
    mine = _used_keyring().to_wrapped(PROVIDER)
    theirs = _used_keyring().to_wrapped(PROVIDER)
    for index in range(2):
        forged = copy.deepcopy(mine)
        forged["keys"][index] = theirs["keys"][index]
        with pytest.raises(KeyringError):
            Keyring.from_wrapped(forged, PROVIDER)


def test_renamed_keyring_fails() -> None:
    doc = _used_keyring().to_wrapped(PROVIDER)
    doc["name"] = "other"
    for entry in doc["keys"]:
        entry["id"] = entry["id"].replace("orders", "other")
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(doc, PROVIDER)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(extra={1, 2}),  # not JSON at all
        lambda d: d.update(extra=types.MappingProxyType({"a": 1})),
        lambda d: d["keys"][0].update(version=10**5000),
        lambda d: d["keys"][0].update(version=2**40),
        lambda d: d["keys"][0].update(uses=10**5000),
        lambda d: d["keys"][0].update(created_at=10**400),
        lambda d: d["keys"][0].update(created_at=float("nan")),
        lambda d: d["keys"][0].update(version=True),
        lambda d: d["keys"][0].update(kek_id="local-\u00e9"),
        lambda d: d["keys"][0].update(kek_id=None),
        lambda d: d["keys"][0].update(wrapped="not base64!"),
        lambda d: d["keys"][0].update(wrapped=d["keys"][0]["wrapped"] + "=="),
        lambda d: d["keys"].append(d["keys"][0]),
        lambda d: d.update(keys=[]),
        lambda d: d.update(keys="x"),
        lambda d: d.update(primary=None),
        lambda d: d.update(primary="orders-v9"),
        lambda d: d.update(mac=None),
        lambda d: d.pop("mac"),
        lambda d: d.update(format="meshsec.keyring/2"),
        lambda d: d.update(usage_limit=0),
        lambda d: d.update(usage_limit=2**33),
        lambda d: d.update(name="a.b"),
        lambda d: d.update(name="\uff4f\uff52\uff44\uff45\uff52\uff53"),  # fullwidth "orders"
    ],
)
def test_malformed_wrapped_documents_are_keyring_errors(tamper) -> None:  # type: ignore[no-untyped-def]
    doc = _used_keyring().to_wrapped(PROVIDER)
    tamper(doc)
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(doc, PROVIDER)


@pytest.mark.parametrize(
    "document",
    ["[" * 100_000, "{" * 100_000, "", "null", "[]", '"x"', "1e999", b"{}", 7, None],
)
def test_absurd_inputs_are_keyring_errors(document: object) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_wrapped(document, PROVIDER)  # type: ignore[arg-type]


def test_round_trip_keeps_usage_counts_and_primary() -> None:
    keyring = _used_keyring()
    same = Keyring.from_wrapped(keyring.to_wrapped_json(PROVIDER), PROVIDER)
    assert same.info() == keyring.info()
    assert _material(same) == _material(keyring)


@pytest.mark.parametrize("name", ["a.b", "", "-x", "x" * 33, "\u00f6rders", "ord ers", "o\n", 7])
def test_keyring_names_that_could_confuse_an_envelope_are_refused(name: object) -> None:
    with pytest.raises(KeyringError):
        Keyring.generate(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "master",
    [
        "",
        "msk1:",
        "msk1:" + "A" * 42,  # 31 bytes
        "msk1:" + "A" * 44,  # 33 bytes
        "msk2:" + "A" * 43,
        "msk1:" + "A" * 42 + "B",  # non-canonical tail
        b"msk1:" + b"A" * 43,
        None,
    ],
)
def test_bad_master_keys_are_config_errors_that_do_not_echo_them(master: object) -> None:
    with pytest.raises(ConfigError) as caught:
        LocalKeyProvider(master)  # type: ignore[arg-type]
    if isinstance(master, str) and len(master) > 8:
        assert master[5:] not in str(caught.value)


# -- secrets never shown ------------------------------------------------------------------


def _objects() -> tuple[Keyring, list[object]]:
    keyring = _used_keyring()
    objects: list[object] = [
        keyring,
        FieldCipher(keyring),
        Tokenizer(keyring),
        Tokenizer(keyring, reversible=False),
        PROVIDER,
        FieldProtector({"a": "encrypt", "b": "mask:hash"}, keyring=keyring),
    ]
    return keyring, objects


def test_repr_str_and_format_never_show_key_material() -> None:
    keyring, objects = _objects()
    secrets = [s for raw in _material(keyring) for s in _spellings(raw)]
    master = PROVIDER.export_master_key().reveal()
    secrets += [master, master[5:], *_spellings(PROVIDER._keys[PROVIDER.kek_id].reveal())]
    for obj in objects:
        for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}"):
            for secret in secrets:
                assert secret not in text
    assert "REDACTED" in repr(PROVIDER.export_master_key())


def test_logging_the_objects_never_shows_key_material(caplog: pytest.LogCaptureFixture) -> None:
    keyring, objects = _objects()
    secrets = [s for raw in _material(keyring) for s in _spellings(raw)]
    with caplog.at_level(logging.INFO):
        for obj in objects:
            logging.getLogger("rt").info("object %s %r", obj, obj)
    for secret in secrets:
        assert secret not in caplog.text


@pytest.mark.parametrize("index", range(5))
def test_pickle_and_copy_of_secret_bearing_objects_are_refused(index: int) -> None:
    _, objects = _objects()
    obj = objects[index]
    with pytest.raises(TypeError):
        pickle.dumps(obj)
    with pytest.raises(TypeError):
        copy.deepcopy(obj)
    with pytest.raises(TypeError):
        copy.copy(obj)


def test_protector_cannot_be_pickled_with_its_keys() -> None:
    _, objects = _objects()
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        pickle.dumps(objects[-1])


def test_wrapped_document_holds_no_raw_key() -> None:
    keyring = _used_keyring()
    text = keyring.to_wrapped_json(PROVIDER)
    for raw in _material(keyring):
        for secret in _spellings(raw):
            assert secret not in text
    assert json.loads(text)["format"] == "meshsec.keyring/1"


def test_keyring_errors_do_not_quote_the_document() -> None:
    doc = _used_keyring().to_wrapped(PROVIDER)
    wrapped = doc["keys"][0]["wrapped"]
    doc["keys"][0]["wrapped"] = wrapped[:-1] + "!"
    with pytest.raises(KeyringError) as caught:
        Keyring.from_wrapped(doc, PROVIDER)
    assert wrapped[:10] not in str(caught.value)
