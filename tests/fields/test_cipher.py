"""FieldCipher: typed round trips, context binding, tamper resistance, no oracle."""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit
from meshsec.errors import FieldError
from meshsec.fields import (
    DecryptionError,
    FieldCipher,
    Keyring,
    KeyUsageExceededError,
    UnsupportedValueError,
    is_envelope,
)
from tests.fields.conftest import CONTEXT, json_values

ENVELOPE = re.compile(r"ms1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+")
_SHARED = FieldCipher(Keyring.generate("shared"))


@given(value=json_values)
def test_json_values_round_trip_with_their_type(value: object) -> None:
    box = _SHARED.encrypt(value, field="a.b", context=CONTEXT)
    back = _SHARED.decrypt(box, field="a.b", context=CONTEXT)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", ["7", 7, 7.0, True, None, "", [], {}, "true", "null"])
def test_lookalike_values_keep_their_type(cipher: FieldCipher, value: object) -> None:
    back = cipher.decrypt(cipher.encrypt(value, field="f", context={}), field="f", context={})
    assert back == value
    assert type(back) is type(value)


def test_envelope_is_json_and_sql_safe(cipher: FieldCipher) -> None:
    box = cipher.encrypt('O\'Brien "quoted" ; DROP TABLE', field="f", context=CONTEXT)
    assert ENVELOPE.fullmatch(box)
    assert is_envelope(box)
    assert box.startswith("ms1.orders-v1.")


def test_same_value_encrypts_differently_each_time(cipher: FieldCipher) -> None:
    boxes = {cipher.encrypt("4111111111111111", field="f", context=CONTEXT) for _ in range(20)}
    assert len(boxes) == 20


def _one_byte_changes(box: str) -> list[str]:
    raw = box.encode("ascii")
    variants = []
    for i in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[i] ^= 1 << bit
            variants.append(flipped.decode("latin-1"))
    return variants


def test_every_single_bit_flip_fails(cipher: FieldCipher) -> None:
    box = cipher.encrypt({"card": "4111111111111111"}, field="card", context=CONTEXT)
    for variant in _one_byte_changes(box):
        with pytest.raises(DecryptionError):
            cipher.decrypt(variant, field="card", context=CONTEXT)


def test_bit_flip_into_another_retained_key_id_fails(keyring: Keyring) -> None:
    cipher = FieldCipher(keyring)
    for _ in range(4):
        keyring.rotate()  # orders-v1 .. orders-v5 all retained
    box = cipher.encrypt("x", field="f", context=CONTEXT)
    assert box.startswith("ms1.orders-v5.")
    relabelled = box.replace("orders-v5", "orders-v4", 1)  # 5 ^ 1 == 4: a one-bit flip
    with pytest.raises(DecryptionError):
        cipher.decrypt(relabelled, field="f", context=CONTEXT)


@given(data=st.data())
def test_truncation_and_extension_fail(data: st.DataObject) -> None:
    box = _SHARED.encrypt("secret value", field="f", context=CONTEXT)
    cut = data.draw(st.integers(min_value=0, max_value=len(box) - 1))
    with pytest.raises(DecryptionError):
        _SHARED.decrypt(box[:cut], field="f", context=CONTEXT)
    tail = data.draw(st.text(min_size=1, max_size=8))
    with pytest.raises(DecryptionError):
        _SHARED.decrypt(box + tail, field="f", context=CONTEXT)


def test_every_truncation_fails(cipher: FieldCipher) -> None:
    box = cipher.encrypt(12345, field="f", context=CONTEXT)
    for cut in range(len(box)):
        with pytest.raises(DecryptionError):
            cipher.decrypt(box[:cut], field="f", context=CONTEXT)


@given(garbage=st.text(max_size=120))
def test_arbitrary_text_fails_with_decryption_error(garbage: str) -> None:
    with pytest.raises(DecryptionError):
        _SHARED.decrypt(garbage, field="f", context=CONTEXT)


@pytest.mark.parametrize("value", [None, 1, b"ms1.a.b.c", ["ms1"], {"ms1": 1}])
def test_non_string_envelopes_fail(cipher: FieldCipher, value: object) -> None:
    with pytest.raises(DecryptionError):
        cipher.decrypt(value, field="f", context=CONTEXT)


def test_envelope_swapped_to_another_field_fails(cipher: FieldCipher) -> None:
    box = cipher.encrypt("123-45-6789", field="customer.ssn", context=CONTEXT)
    with pytest.raises(DecryptionError):
        cipher.decrypt(box, field="customer.note", context=CONTEXT)


def test_envelope_swapped_to_another_record_fails(cipher: FieldCipher) -> None:
    box = cipher.encrypt("123-45-6789", field="ssn", context={"tenant": "acme", "record_id": 1})
    for other in ({"tenant": "acme", "record_id": 2}, {"tenant": "evil", "record_id": 1}, {}):
        with pytest.raises(DecryptionError):
            cipher.decrypt(box, field="ssn", context=other)


def test_context_types_are_part_of_the_binding(cipher: FieldCipher) -> None:
    box = cipher.encrypt("v", field="f", context={"record_id": 1})
    with pytest.raises(DecryptionError):
        cipher.decrypt(box, field="f", context={"record_id": "1"})


def test_context_key_order_does_not_matter(cipher: FieldCipher) -> None:
    box = cipher.encrypt("v", field="f", context={"a": 1, "b": 2})
    assert cipher.decrypt(box, field="f", context={"b": 2, "a": 1}) == "v"


def test_wrong_keyring_fails_like_every_other_cause(cipher: FieldCipher) -> None:
    box = cipher.encrypt("v", field="f", context=CONTEXT)
    stranger = FieldCipher(Keyring.generate("orders"))  # same key id, different key
    messages = set()
    for attempt in (
        lambda: stranger.decrypt(box, field="f", context=CONTEXT),
        lambda: cipher.decrypt(box.replace("orders-v1", "orders-v9"), field="f", context=CONTEXT),
        lambda: cipher.decrypt(box[:-3], field="f", context=CONTEXT),
        lambda: cipher.decrypt(box, field="g", context=CONTEXT),
    ):
        with pytest.raises(DecryptionError) as caught:
            attempt()
        messages.add(caught.value.message.replace("'g'", "'f'"))
    assert len(messages) == 1, "distinct messages would be a decryption oracle"


def test_no_partial_plaintext_in_errors(cipher: FieldCipher) -> None:
    box = cipher.encrypt("4111111111111111", field="f", context=CONTEXT)
    with pytest.raises(DecryptionError) as caught:
        cipher.decrypt(box, field="f", context={"tenant": "other"})
    assert "4111" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    "value",
    [(1, 2), b"bytes", {1: "x"}, {"a": {2}}, float("nan"), float("inf"), object(), "\ud800"],
)
def test_unsupported_values_name_the_field(cipher: FieldCipher, value: object) -> None:
    with pytest.raises(UnsupportedValueError) as caught:
        cipher.encrypt(value, field="customer.blob", context=CONTEXT)
    assert "customer.blob" in caught.value.message
    assert isinstance(caught.value, FieldError)


@pytest.mark.parametrize("context", [{"x": 1.5}, {"x": [1]}, {1: "x"}, "tenant=acme"])
def test_context_must_be_canonical_scalars(cipher: FieldCipher, context: object) -> None:
    with pytest.raises(UnsupportedValueError):
        cipher.encrypt("v", field="f", context=context)  # type: ignore[arg-type]


def test_usage_bound_forces_rotation() -> None:
    keyring = Keyring.generate("small", usage_limit=3)
    cipher = FieldCipher(keyring)
    boxes = [cipher.encrypt(i, field="f", context={}) for i in range(3)]
    with audit.capture() as events, pytest.raises(KeyUsageExceededError) as caught:
        cipher.encrypt(3, field="f", context={})
    assert "rotate" in caught.value.message
    assert [(e.action, e.outcome, e.target, e.reason) for e in events] == [
        ("fields.key.use", audit.Outcome.FAILURE, "small-v1", "field.key_usage_exceeded")
    ]
    keyring.rotate()
    box = cipher.encrypt(3, field="f", context={})
    assert box.startswith("ms1.small-v2.")
    assert [cipher.decrypt(b, field="f", context={}) for b in boxes] == [0, 1, 2]
    assert keyring.info()[1].uses == 3


def test_failed_encryptions_do_not_count_against_the_bound() -> None:
    keyring = Keyring.generate("small", usage_limit=1)
    cipher = FieldCipher(keyring)
    with pytest.raises(UnsupportedValueError):
        cipher.encrypt(object(), field="f", context={})
    cipher.encrypt("ok", field="f", context={})


def test_repr_shows_no_key_material(cipher: FieldCipher, keyring: Keyring) -> None:
    material = keyring._primary.material.reveal()
    text = repr(cipher)
    assert "orders-v1" in text
    assert material.hex() not in text
    assert repr(material) not in text
    with pytest.raises(TypeError):
        pickle.dumps(cipher)


def test_key_selection_uses_the_envelope_key_id_only(keyring: Keyring) -> None:
    cipher = FieldCipher(keyring)
    old = cipher.encrypt("v", field="f", context={})
    keyring.rotate()
    calls: list[str] = []
    original = keyring._get

    def spy(key_id: str):  # type: ignore[no-untyped-def]
        calls.append(key_id)
        return original(key_id)

    keyring._get = spy  # type: ignore[method-assign]
    with pytest.raises(DecryptionError):
        cipher.decrypt(old, field="other", context={})
    assert calls == ["orders-v1"], "decrypt must never try every key"


@given(value=json_values, data=st.data())
def test_any_single_bit_flip_of_any_envelope_fails(value: object, data: st.DataObject) -> None:
    box = _SHARED.encrypt(value, field="a.b", context=CONTEXT)
    raw = bytearray(box.encode("ascii"))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(DecryptionError):
        _SHARED.decrypt(raw.decode("latin-1"), field="a.b", context=CONTEXT)


@given(first=st.text(min_size=1), second=st.text(min_size=1), value=json_values)
def test_envelopes_swapped_between_any_two_fields_fail(
    first: str, second: str, value: object
) -> None:
    if first == second:
        return
    box = _SHARED.encrypt(value, field=first, context=CONTEXT)
    with pytest.raises(DecryptionError):
        _SHARED.decrypt(box, field=second, context=CONTEXT)


def test_field_must_be_a_string(cipher: FieldCipher) -> None:
    with pytest.raises(UnsupportedValueError):
        cipher.encrypt("v", field=7, context={})  # type: ignore[arg-type]
    box = cipher.encrypt("v", field="7", context={})
    with pytest.raises(FieldError):
        cipher.decrypt(box, field=7, context={})  # type: ignore[arg-type]
