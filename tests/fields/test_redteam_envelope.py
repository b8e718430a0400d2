"""Red team: envelope malleability, context canonicalization, JSON type round trips."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.fields import (
    DecryptionError,
    FieldCipher,
    Keyring,
    KeyringError,
    KeyUsageExceededError,
    UnsupportedValueError,
)
from meshsec.fields._b64 import b64d, b64e
from meshsec.fields._codec import canonical_context

CTX = {"tenant": "acme", "record_id": 7}

# One keyring for the hypothesis tests (fixtures do not mix with @given).
_KEYRING = Keyring.generate("rt")
_CIPHER = FieldCipher(_KEYRING)
_BOX = _CIPHER.encrypt("4111111111111111", field="card.number", context=CTX)


def _opens(box: object, *, field: str = "card.number", context: object = CTX) -> object:
    return _CIPHER.decrypt(box, field=field, context=context)  # type: ignore[arg-type]


# -- malleability --------------------------------------------------------------


@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_every_bit_flip_of_the_envelope_text_is_refused(position: int, bit: int) -> None:
    raw = bytearray(_BOX.encode("ascii"))
    raw[position % len(raw)] ^= 1 << bit
    tampered = raw.decode("latin-1")
    with pytest.raises(DecryptionError):
        _opens(tampered)


def test_every_truncation_is_refused() -> None:
    for end in range(len(_BOX)):
        with pytest.raises(DecryptionError):
            _opens(_BOX[:end])
    for start in range(1, len(_BOX)):
        with pytest.raises(DecryptionError):
            _opens(_BOX[start:])


@given(suffix=st.text(min_size=1, max_size=8))
def test_every_extension_is_refused(suffix: str) -> None:
    with pytest.raises(DecryptionError):
        _opens(_BOX + suffix)
    with pytest.raises(DecryptionError):
        _opens(suffix + _BOX)


@pytest.mark.parametrize(
    "disguise",
    [
        lambda b: b + "=",
        lambda b: b + "==",
        lambda b: b.replace("-", "+").replace("_", "/"),
        lambda b: b.upper(),
        lambda b: b.swapcase(),
        lambda b: b.replace("ms1.", "MS1.", 1),
        lambda b: b.replace("ms1.", "ms2.", 1),
        lambda b: " " + b,
        lambda b: b + "\n",
        lambda b: b.replace(".", "\uff0e"),  # fullwidth full stop
        lambda b: b.replace("rt-v1", "rt-v1 ", 1),
        lambda b: b.replace("rt-v1", "rt-V1", 1),
        lambda b: b.replace("rt-v1", "rt-\uff56\uff11", 1),  # fullwidth "v1"
        lambda b: ".".join([*b.split(".")[:3], b.split(".")[3] + "\u200b"]),
        lambda b: ".".join([b.split(".")[0], b.split(".")[1], "", b.split(".")[3]]),
        lambda b: ".".join([*b.split(".")[:2], b.split(".")[3], b.split(".")[2]]),
    ],
)
def test_base64_alphabet_padding_case_and_unicode_tricks_are_refused(disguise) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DecryptionError):
        _opens(disguise(_BOX))


def test_non_canonical_base64_tail_is_refused() -> None:
    # A last character differing only in its unused low bits decodes to the
    # same bytes with a lenient decoder: it must be refused, not accepted.
    prefix, key_id, nonce, sealed = _BOX.split(".")
    last = sealed[-1]
    for other in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        if other == last:
            continue
        with pytest.raises(DecryptionError):
            _opens(".".join([prefix, key_id, nonce, sealed[:-1] + other]))


@given(data=st.binary(max_size=64))
def test_b64_round_trip_is_canonical(data: bytes) -> None:
    text = b64e(data)
    assert b64d(text) == data
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_non_string_envelopes_are_decryption_errors() -> None:
    for value in (None, 1, b"ms1.rt-v1.a.b", ["ms1"], {"ms1": 1}, 1.5, True):
        with pytest.raises(DecryptionError):
            _opens(value)


def test_envelope_swaps_between_fields_records_tenants_and_keys_fail() -> None:
    keyring = Keyring.generate("rt")
    cipher = FieldCipher(keyring)
    box = cipher.encrypt("secret", field="a.b", context={"tenant": "t1", "record_id": 1})
    for field, context in [
        ("a.c", {"tenant": "t1", "record_id": 1}),
        ("a.b", {"tenant": "t1", "record_id": 2}),
        ("a.b", {"tenant": "t2", "record_id": 1}),
        ("a.b", {"tenant": "t1", "record_id": "1"}),
        ("a.b", {"tenant": "t1", "record_id": True}),
        ("a.b", {"tenant": "t1"}),
        ("a.b", {"tenant": "t1", "record_id": 1, "extra": None}),
        ("a.b ", {"tenant": "t1", "record_id": 1}),
        ("", {"tenant": "t1", "record_id": 1}),
    ]:
        with pytest.raises(DecryptionError):
            cipher.decrypt(box, field=field, context=context)
    # Relabelled with another retained key id of the same keyring: refused.
    keyring.rotate()
    relabelled = box.replace("rt-v1", "rt-v2", 1)
    with pytest.raises(DecryptionError):
        cipher.decrypt(relabelled, field="a.b", context={"tenant": "t1", "record_id": 1})
    # A keyring with the same name but other keys does not open it either.
    with pytest.raises(DecryptionError):
        FieldCipher(Keyring.generate("rt")).decrypt(
            box, field="a.b", context={"tenant": "t1", "record_id": 1}
        )


def test_field_and_context_cannot_be_shifted_into_each_other() -> None:
    keyring = Keyring.generate("rt")
    cipher = FieldCipher(keyring)
    box = cipher.encrypt("v", field="ab", context={"c": "d"})
    with pytest.raises(DecryptionError):
        cipher.decrypt(box, field="a", context={"bc": "d"})


def test_decryption_error_message_is_the_same_for_every_cause() -> None:
    keyring = Keyring.generate("rt")
    cipher = FieldCipher(keyring)
    box = cipher.encrypt("v", field="f", context={})
    keyring.rotate()
    retired = box
    messages = set()
    for bad in [box[:-1], box + "A", box.replace("rt-v1", "rt-v9"), "garbage", retired]:
        if bad is retired:
            keyring.retire("rt-v1")
        with pytest.raises(DecryptionError) as caught:
            cipher.decrypt(bad, field="f", context={})
        messages.add(str(caught.value))
    assert len(messages) == 1


# -- context canonicalization ----------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"a": "1"}, {"a": 1}),
        ({"a": 1}, {"a": True}),
        ({"a": 0}, {"a": False}),
        ({"a": None}, {"a": "null"}),
        ({"a": None}, {}),
        ({"a": "\u00e9"}, {"a": "e\u0301"}),  # NFC vs NFD are different contexts
        ({"a": "x", "b": "y"}, {"a": "x,b:y"}),
        ({"a\u0000": "b"}, {"a": "\u0000b"}),
    ],
)
def test_distinct_contexts_never_collide(
    first: dict[str, object], second: dict[str, object]
) -> None:
    assert canonical_context(first) != canonical_context(second)


def test_key_order_does_not_matter() -> None:
    assert canonical_context({"a": 1, "b": 2}) == canonical_context({"b": 2, "a": 1})


@pytest.mark.parametrize(
    "context",
    [
        {"a": 1.0},
        {"a": math.nan},
        {"a": math.inf},
        {"a": {"nested": 1}},
        {"a": [1]},
        {"a": b"bytes"},
        {1: "int key"},
        {"a": 10**5000},
        {"a": "\ud83d\ude00"},  # lone surrogates whose escapes equal a real emoji's
        {"\udc00": "x"},
        "not a mapping",
        None,
    ],
)
def test_contexts_without_a_canonical_form_are_refused(context: object) -> None:
    with pytest.raises(UnsupportedValueError):
        canonical_context(context)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedValueError):
        _CIPHER.encrypt("x", field="f", context=context)  # type: ignore[arg-type]


def test_surrogate_pair_context_cannot_stand_in_for_the_emoji() -> None:
    box = _CIPHER.encrypt("x", field="f", context={"id": "\U0001f600"})
    with pytest.raises(UnsupportedValueError):
        _CIPHER.decrypt(box, field="f", context={"id": "\ud83d\ude00"})


def test_str_and_int_subclasses_in_context_are_refused() -> None:
    class Sneaky(str):
        pass

    with pytest.raises(UnsupportedValueError):
        canonical_context({"a": Sneaky("x")})


# -- JSON type round trips ---------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_any = st.recursive(
    json_leaf,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=16,
)


def _same(a: object, b: object) -> bool:
    """Equality that also tells 1 from 1.0 from True and -0.0 from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b  # type: ignore[arg-type]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined,index]
    return a == b


@given(value=json_any)
def test_json_values_round_trip_with_their_exact_types(value: object) -> None:
    box = _CIPHER.encrypt(value, field="f", context=CTX)
    assert _same(_CIPHER.decrypt(box, field="f", context=CTX), value)


@pytest.mark.parametrize(
    "value", [-0.0, 0.0, 1.0, 1, True, False, "1", "", 5e-324, 2**63, -(2**64)]
)
def test_lookalike_scalars_keep_their_type(value: object) -> None:
    box = _CIPHER.encrypt(value, field="f", context=CTX)
    assert _same(_CIPHER.decrypt(box, field="f", context=CTX), value)


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        [1, math.nan],
        {"a": math.inf},
        b"bytes",
        bytearray(b"x"),
        (1, 2),
        {1, 2},
        {1: "int key"},
        pytest.param(10**5000, id="huge-int"),
        [10**5000],
        "\ud800",
        object(),
        type("S", (str,), {})("subclass"),
        type("I", (int,), {})(3),
        type("D", (dict,), {})(a=1),
    ],
)
def test_unsupported_values_raise_typed_errors_naming_the_field(value: object) -> None:
    with pytest.raises(UnsupportedValueError) as caught:
        _CIPHER.encrypt(value, field="card.number", context=CTX)
    assert "card.number" in str(caught.value)


def test_cyclic_and_deep_values_are_typed_errors() -> None:
    loop: list[object] = []
    loop.append(loop)
    deep: object = 1
    for _ in range(10_000):
        deep = [deep]
    for value in (loop, deep):
        with pytest.raises(UnsupportedValueError):
            _CIPHER.encrypt(value, field="f", context=CTX)


def test_refused_values_do_not_count_a_key_use() -> None:
    keyring = Keyring.generate("rt", usage_limit=1)
    cipher = FieldCipher(keyring)
    for bad in (b"x", math.nan, 10**5000):
        with pytest.raises(UnsupportedValueError):
            cipher.encrypt(bad, field="f", context={})
    with pytest.raises(UnsupportedValueError):
        cipher.encrypt("x", field=7, context={})  # type: ignore[arg-type]
    with pytest.raises(UnsupportedValueError):
        cipher.encrypt("x", field="f", context={"a": 1.5})
    assert keyring.info()[0].uses == 0
    cipher.encrypt("x", field="f", context={})  # the one allowed use is still there


# -- usage bound -------------------------------------------------------------------


def test_usage_bound_is_exact() -> None:
    keyring = Keyring.generate("rt", usage_limit=5)
    cipher = FieldCipher(keyring)
    boxes = [cipher.encrypt(i, field="f", context={}) for i in range(5)]
    with pytest.raises(KeyUsageExceededError):
        cipher.encrypt(5, field="f", context={})
    assert keyring.info()[0].uses == 5
    # Decryption is not a use, and still works at the bound.
    assert [cipher.decrypt(b, field="f", context={}) for b in boxes] == list(range(5))
    keyring.rotate()
    cipher.encrypt(5, field="f", context={})


def test_usage_bound_holds_under_racing_threads() -> None:
    keyring = Keyring.generate("rt", usage_limit=200)
    cipher = FieldCipher(keyring)
    done: list[int] = []
    refused: list[int] = []

    def work() -> None:
        for _ in range(60):
            try:
                cipher.encrypt("x", field="f", context={})
                done.append(1)
            except KeyUsageExceededError:
                refused.append(1)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 200
    assert len(refused) == 160


@pytest.mark.parametrize("limit", [0, -1, True, 1.0, "10", 2**32 + 1, 2**64, None])
def test_invalid_usage_limits_are_refused(limit: object) -> None:
    with pytest.raises(KeyringError):
        Keyring.generate("rt", usage_limit=limit)  # type: ignore[arg-type]


def test_default_bound_forces_rotation_well_before_2_pow_32() -> None:
    assert Keyring.generate("rt").usage_limit <= 2**31
    Keyring.generate("rt", usage_limit=2**32)  # the largest accepted bound
