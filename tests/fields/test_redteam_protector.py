"""Red team: FieldProtector never mutates, never half-protects, audits every reveal once."""

from __future__ import annotations

import copy
import json
import math
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit
from meshsec.clock import system_clock
from meshsec.context import SecurityContext, run_as
from meshsec.correlation import scope
from meshsec.errors import ConfigError, FieldError, MeshsecError
from meshsec.fields import (
    Classification,
    DecryptionError,
    FieldProtector,
    FieldSchema,
    Keyring,
    KeyringError,
    Tokenizer,
    UnsupportedValueError,
)
from meshsec.fields._keyring import _new_key

CTX = {"tenant": "acme", "record_id": 1}
SCHEMA = {
    "card.number": {"action": "encrypt", "classification": "restricted", "reveal_mask": "last4"},
    "customer.email": {"action": "tokenize", "classification": "confidential"},
    "customer.ref": {"action": "tokenize:irreversible", "classification": "internal"},
    "customer.phone": "mask:last4",
    "customer.hash": "mask:hash",
    "notes": "drop",
    "items[*].sku": {"action": "encrypt", "classification": "internal"},
    "accounts.*.iban": {"action": "encrypt", "classification": "confidential"},
}
RECORD = {
    "id": 1,
    "card": {"number": "4111111111111111"},
    "customer": {
        "email": "ada@example.com",
        "ref": "C-1",
        "phone": "+44 20 7946 0018",
        "hash": "x",
    },
    "notes": "VIP",
    "items": [{"sku": "A-1"}, {"sku": 2}, {"other": True}],
    "accounts": {"main": {"iban": "GB82WEST12345698765432"}, "side": {"iban": None}},
}

_KEYRING = Keyring.generate("rt")
_PROTECTOR = FieldProtector(SCHEMA, keyring=_KEYRING)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


# -- never mutate, never half-protect ----------------------------------------------


def test_protect_reveal_rotate_never_mutate_their_input() -> None:
    record = copy.deepcopy(RECORD)
    stored = _PROTECTOR.protect(record, context=CTX)
    assert record == RECORD
    snapshot = copy.deepcopy(stored)
    _PROTECTOR.reveal(stored, context=CTX, clearance="restricted")
    _PROTECTOR.reveal(stored, context=CTX, clearance="public")
    _PROTECTOR.rotate(stored, context=CTX)
    assert stored == snapshot


@pytest.mark.parametrize(
    ("path", "bad", "rule"),
    [
        (("card", "number"), b"4111111111111111", "card.number"),
        (("card", "number"), math.nan, "card.number"),
        (("customer", "email"), {1, 2}, "customer.email"),
        (("customer", "phone"), b"4111111111111111", "customer.phone"),
        (("customer", "phone"), math.inf, "customer.phone"),
        (("customer", "hash"), bytearray(b"x"), "customer.hash"),
        pytest.param(("items", 1, "sku"), 10**5000, "items[*].sku", id="huge-int"),
        (("accounts", "side", "iban"), (1, 2), "accounts.*.iban"),
    ],
)
def test_unsupported_values_leave_the_record_untouched_and_name_the_path(
    path: tuple[object, ...], bad: object, rule: str
) -> None:
    record = copy.deepcopy(RECORD)
    node: object = record
    for step in path[:-1]:
        node = node[step]  # type: ignore[index]
    node[path[-1]] = bad  # type: ignore[index]
    before = copy.deepcopy(record)  # NaN and big ints are shared, so == compares them by identity
    with pytest.raises(UnsupportedValueError) as caught:
        _PROTECTOR.protect(record, context=CTX)
    assert record == before
    assert rule in str(caught.value)
    assert "4111" not in str(caught.value)


def test_masked_bytes_never_leak_their_tail() -> None:
    protector = FieldProtector({"pan": "mask:last4"}, keyring=_KEYRING)
    with pytest.raises(UnsupportedValueError):
        protector.protect({"pan": b"4111111111111111"}, context=CTX)


def test_cyclic_records_are_typed_errors_not_recursion_errors() -> None:
    record: dict[str, object] = {"card": {"number": "4111111111111111"}}
    record["self"] = record
    with pytest.raises(UnsupportedValueError):
        _PROTECTOR.protect(record, context=CTX)
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(UnsupportedValueError):
        _PROTECTOR.protect({"items": looped}, context=CTX)
    with audit.capture() as events, pytest.raises(UnsupportedValueError):
        _PROTECTOR.reveal(record, context=CTX, clearance="restricted")
    assert [e.outcome for e in events] == [audit.Outcome.FAILURE]


def test_deeply_nested_records_are_typed_errors_even_near_the_recursion_limit() -> None:
    deep: object = "x"
    for _ in range(sys.getrecursionlimit() * 3):
        deep = {"d": deep}
    for operation in (_PROTECTOR.protect, _PROTECTOR.rotate):
        with pytest.raises(UnsupportedValueError):
            operation({"deep": deep}, context=CTX)
    moderately: object = "x"
    for _ in range(100):
        moderately = [moderately]
    out = _PROTECTOR.protect({"deep": moderately, "notes": 1}, context=CTX)
    assert out == {"deep": moderately}


def test_failed_reveal_returns_nothing_and_leaves_input_untouched() -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    stored["items"][1]["sku"] = stored["items"][0]["sku"][:-2]
    snapshot = copy.deepcopy(stored)
    with pytest.raises(DecryptionError):
        _PROTECTOR.reveal(stored, context=CTX, clearance="restricted")
    assert stored == snapshot


# -- paths ------------------------------------------------------------------------


def test_wildcards_on_the_wrong_container_and_missing_paths_are_skipped_never_created() -> None:
    protector = FieldProtector(
        {"a[*].x": "encrypt", "b.*.y": "mask:redact", "c.d.e": "drop", "f": "tokenize"},
        keyring=_KEYRING,
    )
    odd = {"a": {"x": "not a list"}, "b": ["not", "a", "dict"], "c": {"d": "leaf"}, "g": 1}
    assert protector.protect(odd, context=CTX) == odd
    assert protector.protect({}, context=CTX) == {}
    assert protector.protect([], context=CTX) == []
    assert protector.protect("scalar", context=CTX) == "scalar"


def test_keys_with_dots_are_not_reached_by_a_dotted_path() -> None:
    protector = FieldProtector({"a.b": "mask:redact"}, keyring=_KEYRING)
    record = {"a.b": "literal key", "a": {"b": "nested"}}
    assert protector.protect(record, context=CTX) == {
        "a.b": "literal key",
        "a": {"b": "[REDACTED]"},
    }


@pytest.mark.parametrize(
    "path", ["", ".", "a.", ".a", "a..b", "a[0]", "a[*", "a]", "**", "a*", "a[*]b", "[x]"]
)
def test_malformed_paths_are_config_errors(path: str) -> None:
    with pytest.raises(ConfigError):
        FieldProtector({path: "drop"}, keyring=_KEYRING)


def test_star_reaches_every_key_including_odd_ones() -> None:
    protector = FieldProtector({"m.*": "mask:redact"}, keyring=_KEYRING)
    record = {"m": {"a.b": "1", "": "2", "*": "3", "[*]": "4"}}
    assert protector.protect(record, context=CTX) == {"m": dict.fromkeys(record["m"], "[REDACTED]")}


# -- clearance -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "clearance",
    ["restricted", "RESTRICTED", " Restricted ", Classification.RESTRICTED],
)
def test_clearance_spellings_that_are_accepted(clearance: object) -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    out = _PROTECTOR.reveal(stored, context=CTX, clearance=clearance)  # type: ignore[arg-type]
    assert out["card"]["number"] == "4111111111111111"


@pytest.mark.parametrize(
    "clearance",
    [
        3,
        True,
        None,
        "top-secret",
        "restr\u0131cted",  # dotless i upper-cases to I
        "re\u017ftricted",  # long s upper-cases to S
        "\uff52estricted",  # fullwidth r
        "restricted\x00",
        b"restricted",
        ["restricted"],
    ],
)
def test_invalid_clearances_are_refused_and_audited_once(clearance: object) -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    with audit.capture() as events, pytest.raises(ConfigError):
        _PROTECTOR.reveal(stored, context=CTX, clearance=clearance)  # type: ignore[arg-type]
    assert len(events) == 1
    assert events[0].outcome == audit.Outcome.FAILURE
    assert events[0].reason == "config.error"


def test_each_level_sees_exactly_what_it_is_cleared_for() -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    public = _PROTECTOR.reveal(stored, context=CTX, clearance="public")
    assert public["card"]["number"] == "************1111"
    assert public["customer"]["email"] == stored["customer"]["email"]  # the token
    assert [i.get("sku") for i in public["items"]] == ["[REDACTED]", "[REDACTED]", None]
    internal = _PROTECTOR.reveal(stored, context=CTX, clearance="internal")
    assert [i.get("sku") for i in internal["items"]] == ["A-1", 2, None]
    assert internal["accounts"]["main"]["iban"] == "[REDACTED]"
    confidential = _PROTECTOR.reveal(stored, context=CTX, clearance="confidential")
    assert confidential["customer"]["email"] == "ada@example.com"
    assert confidential["accounts"]["main"]["iban"] == "GB82WEST12345698765432"
    assert confidential["card"]["number"] == "************1111"
    for view in (public, internal, confidential):
        assert "notes" not in view
        assert "4111111111111111" not in json.dumps(view)


# -- audit -------------------------------------------------------------------------------


def test_each_reveal_emits_exactly_one_event_with_paths_never_values() -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    caller = SecurityContext(principal="spiffe://acme/billing")
    with audit.capture() as events, run_as(caller), scope() as correlation:
        _PROTECTOR.reveal(stored, context=CTX, clearance="confidential")
    assert len(events) == 1
    event = events[0]
    assert event.category == audit.Category.DATA_ACCESS
    assert event.outcome == audit.Outcome.SUCCESS
    assert event.actor == "spiffe://acme/billing"
    assert event.correlation_id == correlation.correlation_id
    attrs = event.attributes
    assert attrs["clearance"] == "confidential"
    assert "customer.email=confidential" in attrs["revealed_fields"]
    assert "card.number=restricted" in attrs["masked_fields"]
    text = json.dumps({"attrs": attrs, "target": event.target, "reason": event.reason}, default=str)
    for value in _leaves(RECORD):
        if isinstance(value, str) and len(value) > 3:
            assert value not in text


def test_failed_reveal_emits_one_failure_event_with_the_code() -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    stored["card"]["number"] = "4111111111111111"  # clear text planted in storage
    with audit.capture() as events, pytest.raises(DecryptionError):
        _PROTECTOR.reveal(stored, context=CTX, clearance="restricted")
    assert [(e.outcome, e.reason) for e in events] == [
        (audit.Outcome.FAILURE, "field.decryption_failed")
    ]
    assert "4111" not in json.dumps(events[0].attributes, default=str)


def test_protect_and_rotate_emit_no_reveal_events() -> None:
    with audit.capture() as events:
        stored = _PROTECTOR.protect(RECORD, context=CTX)
        _PROTECTOR.rotate(stored, context=CTX)
    assert [e for e in events if e.action == "fields.reveal"] == []


# -- planted clear text ---------------------------------------------------------------------


@pytest.mark.parametrize("clearance", ["public", "restricted"])
def test_clear_text_planted_in_an_hmac_token_column_never_leaves(clearance: str) -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    stored["customer"]["ref"] = "4111111111111111"
    with pytest.raises(DecryptionError):
        _PROTECTOR.reveal(stored, context=CTX, clearance=clearance)


def test_clear_text_planted_in_a_keyed_hash_column_is_hashed_on_reveal() -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    genuine = stored["customer"]["hash"]
    stored["customer"]["hash"] = "4111111111111111"
    out = _PROTECTOR.reveal(stored, context=CTX, clearance="restricted")
    assert out["customer"]["hash"].startswith("hmac:")
    assert "4111" not in out["customer"]["hash"]
    stored["customer"]["hash"] = genuine
    assert _PROTECTOR.reveal(stored, context=CTX, clearance="public")["customer"]["hash"] == genuine


@pytest.mark.parametrize("planted", ["4111111111111111", "ms1.rt-v1.AAAA.BBBB", 4111, None, ["x"]])
def test_anything_but_an_envelope_in_an_encrypted_column_fails_reveal(planted: object) -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    stored["card"]["number"] = planted
    for clearance in ("public", "restricted"):
        with pytest.raises(DecryptionError):
            _PROTECTOR.reveal(stored, context=CTX, clearance=clearance)


# -- round trips and rotation ------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_any = st.recursive(
    json_leaf,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=10,
)


@given(
    record=st.fixed_dictionaries(
        {
            "card": st.fixed_dictionaries({"number": json_any}),
            "items": st.lists(st.fixed_dictionaries({"sku": json_any}), max_size=3),
            "accounts": st.dictionaries(
                st.text(max_size=4), st.fixed_dictionaries({"iban": json_any}), max_size=3
            ),
            "customer": st.fixed_dictionaries({"email": json_any}),
            "other": json_any,
        }
    )
)
def test_arbitrary_records_round_trip_with_full_clearance(record: dict[str, object]) -> None:
    before = copy.deepcopy(record)
    stored = _PROTECTOR.protect(record, context=CTX)
    assert record == before or json.dumps(record) == json.dumps(before)
    back = _PROTECTOR.reveal(stored, context=CTX, clearance="restricted")
    assert json.dumps(back, sort_keys=True) == json.dumps(record, sort_keys=True)


def test_three_key_versions_decrypt_then_rotate_moves_all_and_retire_fails_clearly() -> None:
    keyring = Keyring.generate("rot")
    protector = FieldProtector(SCHEMA, keyring=keyring)
    rows = []
    for _ in range(3):
        rows.append(protector.protect(RECORD, context=CTX))
        keyring.rotate()
    for row in rows:
        assert protector.reveal(row, context=CTX, clearance="restricted")["card"] == RECORD["card"]
    moved = [protector.rotate(row, context=CTX) for row in rows]
    primary = keyring.primary_id
    for row in moved:
        assert row["card"]["number"].split(".")[1] == primary
        assert row["customer"]["email"].split(".")[1] == primary
    for old in keyring.key_ids[1:]:
        keyring.retire(old)
    for row in moved:
        assert protector.reveal(row, context=CTX, clearance="restricted")["id"] == 1
    with pytest.raises(DecryptionError):
        protector.reveal(rows[0], context=CTX, clearance="restricted")


def test_search_tokens_span_rotation_and_drop_retired_versions() -> None:
    keyring = Keyring.generate("srch")
    tokens = Tokenizer(keyring)
    first = tokens.tokenize("ada@example.com", field="customer.email")
    keyring.rotate()
    second = tokens.tokenize("ada@example.com", field="customer.email")
    assert first != second
    assert tokens.search_tokens("ada@example.com", field="customer.email") == [second, first]
    keyring.retire(keyring.key_ids[1])
    assert tokens.search_tokens("ada@example.com", field="customer.email") == [second]
    with pytest.raises(DecryptionError):
        tokens.detokenize(first, field="customer.email")


def test_tokens_are_separated_by_field_key_version_and_mode() -> None:
    keyring = Keyring.generate("sep")
    siv, mac = Tokenizer(keyring), Tokenizer(keyring, reversible=False)
    seen = {
        siv.tokenize("v", field="a").split(".")[2],
        siv.tokenize("v", field="b").split(".")[2],
        siv.tokenize("v", field="a\x00").split(".")[2],
        mac.tokenize("v", field="a").split(".")[2],
        mac.tokenize("v", field="b").split(".")[2],
        siv.tokenize(7, field="a").split(".")[2],
        siv.tokenize("7", field="a").split(".")[2],
    }
    keyring.rotate()
    seen.add(siv.tokenize("v", field="a").split(".")[2])
    seen.add(mac.tokenize("v", field="a").split(".")[2])
    assert len(seen) == 9
    with pytest.raises(DecryptionError):
        siv.detokenize(siv.tokenize("v", field="a"), field="b")


@pytest.mark.parametrize("mode", ["false", "no", 0, 1, None])
def test_tokenizer_mode_is_never_read_from_a_truthy_lookalike(mode: object) -> None:
    with pytest.raises(ConfigError):
        Tokenizer(_KEYRING, reversible=mode)  # type: ignore[arg-type]


def test_irreversible_tokens_cannot_be_detokenized() -> None:
    mac = Tokenizer(_KEYRING, reversible=False)
    with pytest.raises(FieldError):
        mac.detokenize(mac.tokenize("v", field="a"), field="a")


def test_tokenizing_a_lone_surrogate_field_path_is_not_a_unicode_error() -> None:
    tokens = Tokenizer(_KEYRING)
    token = tokens.tokenize("v", field="a\ud800")
    assert tokens.detokenize(token, field="a\ud800") == "v"


def test_errors_raised_are_meshsec_errors() -> None:
    for bad in ({"card": {"number": b"x"}}, {"items": [{"sku": math.nan}]}):
        with pytest.raises(MeshsecError):
            _PROTECTOR.protect(bad, context=CTX)


def test_schema_version_must_be_the_int_one() -> None:
    for version in (True, 1.0, "1", 2):
        with pytest.raises(ConfigError):
            FieldProtector({"version": version, "fields": {"a": "drop"}}, keyring=_KEYRING)
    FieldProtector({"version": 1, "fields": {"a": "drop"}}, keyring=_KEYRING)


def test_classification_levels_are_ordered_and_named() -> None:
    levels = [Classification(name) for name in ("public", "internal", "confidential", "restricted")]
    assert levels == sorted(levels)
    assert levels == [Classification.parse(level.name.lower()) for level in levels]
    for lookalike in ("restr\u0131cted", "\uff52estricted", "secret"):
        with pytest.raises(ValueError, match="not a valid"):
            Classification(lookalike)


@pytest.mark.parametrize("key_id", [None, 1, ["rt-v1"], b"rt-v1", "rt-v1 ", "RT-V1"])
def test_retiring_odd_key_ids_is_a_keyring_error_and_changes_nothing(key_id: object) -> None:
    keyring = Keyring.generate("rt")
    keyring.rotate()
    with pytest.raises(KeyringError):
        keyring.retire(key_id)  # type: ignore[arg-type]
    assert keyring.key_ids == ("rt-v2", "rt-v1")


@pytest.mark.parametrize(
    "loader", [FieldSchema.from_json, FieldSchema.from_yaml], ids=["json", "yaml"]
)
@pytest.mark.parametrize("text", ["[" * 1_200, "{" * 1_200, "", "[1, 2]", "7"])
def test_absurd_schema_documents_are_config_errors(loader, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        loader(text)


def test_longest_key_ids_still_reveal_irreversible_tokens() -> None:
    # The longest key id a wrapped keyring accepts: a 32-character name, version 2**31.
    name = "n" * 32
    key = _new_key(name, 2**31, system_clock)
    keyring = Keyring(name=name, keys=[key], primary=key.key_id)
    assert len(key.key_id) == 44
    protector = FieldProtector({"ref": "tokenize:irreversible"}, keyring=keyring)
    stored = protector.protect({"ref": "C-1"}, context=CTX)
    assert protector.reveal(stored, context=CTX, clearance="restricted") == stored


@pytest.mark.parametrize("clearance", ["public", "confidential"])
def test_text_planted_in_the_shape_of_a_token_never_leaves(clearance: str) -> None:
    stored = _PROTECTOR.protect(RECORD, context=CTX)
    stored["customer"]["email"] = "mt1.rt-v1.4111111111111111"
    with pytest.raises(DecryptionError):
        _PROTECTOR.reveal(stored, context=CTX, clearance=clearance)


def test_a_path_written_twice_cannot_quietly_downgrade_its_rule() -> None:
    with pytest.raises(ConfigError, match="duplicate"):
        FieldSchema.from_json('{"card.number": "encrypt", "card.number": "mask:last4"}')
    with pytest.raises(ConfigError, match="duplicate"):
        FieldSchema.from_yaml("card.number: encrypt\ncard.number: mask:last4\n")
    with pytest.raises(ConfigError, match="duplicate"):
        FieldSchema.from_yaml("fields:\n  a: {action: encrypt, action: drop}\n")
    merged = FieldSchema.from_yaml("b: &r {action: encrypt}\nc: {<<: *r, classification: public}\n")
    assert [(r.path, r.classification) for r in merged.rules] == [
        ("b", Classification.RESTRICTED),
        ("c", Classification.PUBLIC),
    ]
