"""Issue 3, conformance: masking operators, Classification and FieldProtector called
exactly as the issue writes them."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from meshsec import audit
from meshsec.errors import ConfigError, FieldError
from meshsec.fields import (
    Classification,
    DecryptionError,
    FieldProtector,
    FieldSchema,
    Keyring,
    KeyringError,
    KeyringRequiredError,
    Tokenizer,
    UnsupportedValueError,
    mask_email,
    mask_fixed,
    mask_keep_first,
    mask_keep_last,
    mask_keyed_hash,
    mask_null,
    mask_redact,
)

CONTEXT = {"tenant": "acme", "record_id": 17}

# -- masking operators ------------------------------------------------------------------------


def test_mask_email_is_exactly_first_char_three_stars_and_domain() -> None:
    assert mask_email("john@example.com") == "j***@example.com"
    assert mask_email("jane.doe+tag@example.com") == "j***@example.com"


def test_keep_first_and_last_n_for_cards_and_phones() -> None:
    assert mask_keep_last(4)("4111111111111111") == "************1111"
    assert mask_keep_first(6)("4111111111111111") == "411111**********"
    assert mask_keep_last(4)("+44 20 7946 0018") == "************0018"


def test_redact_null_fixed() -> None:
    assert "4111" not in str(mask_redact("4111111111111111"))
    assert mask_null("anything") is None
    assert mask_fixed("<hidden>")("anything") == "<hidden>"


def test_keyed_hash_is_keyed_not_bare() -> None:
    one, two = mask_keyed_hash(b"k" * 32), mask_keyed_hash(b"j" * 32)
    assert one("ada") == one("ada") != two("ada")
    assert hashlib.sha256(b"ada").hexdigest() not in one("ada")
    with pytest.raises(ConfigError):
        mask_keyed_hash(b"short")


@pytest.mark.parametrize("mask", [mask_keep_last(4), mask_keep_first(4), mask_email, mask_redact])
@pytest.mark.parametrize(
    "value", ["", "a", "é", "e\u0301", "\U0001f44d\U0001f3fd", "\U0001f1ec\U0001f1e7"]
)
def test_masking_edge_cases_never_show_a_short_value_whole(mask: object, value: str) -> None:
    out = mask(value)  # type: ignore[operator]
    if value:
        assert out != value
        assert value not in str(out)
    assert "\ufffd" not in str(out)  # no split code point or grapheme


def test_masks_keep_graphemes_whole() -> None:
    out = mask_keep_last(2)("abcdefe\u0301\U0001f44d\U0001f3fd")
    assert out.endswith("e\u0301\U0001f44d\U0001f3fd")
    assert out.count("*") == 6


def test_non_string_values_are_masked_through_their_text() -> None:
    assert mask_keep_last(4)(4111111111111111) == "************1111"
    assert mask_keep_last(4)(None) is None
    assert mask_keep_last(4)([1, 2]) != [1, 2]


# -- Classification ---------------------------------------------------------------------------


def test_classification_levels_are_ordered() -> None:
    c = Classification
    assert c.PUBLIC < c.INTERNAL < c.CONFIDENTIAL < c.RESTRICTED
    assert [m.name.lower() for m in sorted(c)] == [
        "public",
        "internal",
        "confidential",
        "restricted",
    ]
    assert Classification("restricted") is c.RESTRICTED


# -- FieldProtector(schema) -------------------------------------------------------------------

SCHEMA = {
    "card.number": {"action": "encrypt", "classification": "restricted"},
    "customer.email": {"action": "tokenize", "classification": "confidential"},
    "customer.phone": {"action": "mask:last4", "classification": "internal"},
    "orders[*].note": {"action": "encrypt", "classification": "confidential"},
    "accounts.*.iban": {"action": "encrypt", "classification": "restricted"},
    "internal_notes": "drop",
}
RECORD = {
    "id": 17,
    "card": {"number": "4111111111111111"},
    "customer": {"email": "ada@example.com", "phone": "+44 20 7946 0018"},
    "orders": [{"note": "leave at door"}, {"note": "ring twice"}, {"sku": "x"}],
    "accounts": {
        "main": {"iban": "GB82WEST12345698765432"},
        "spare": {"iban": "DE89370400440532013000"},
    },
    "internal_notes": "VIP",
}


def test_field_protector_with_only_a_schema_masks_and_drops() -> None:
    protector = FieldProtector({"phone": "mask:last4", "notes": "drop", "email": "mask:email"})
    out = protector.protect(
        {"phone": "5551234567", "notes": "x", "email": "john@example.com"}, context={}
    )
    assert out == {"phone": "******4567", "email": "j***@example.com"}
    assert protector.reveal(out, context={}, clearance="public") == out


@pytest.mark.parametrize("action", ["encrypt", "tokenize", "tokenize:irreversible", "mask:hash"])
def test_field_protector_schema_only_names_keyring_when_keys_are_needed(action: str) -> None:
    with pytest.raises(KeyringRequiredError) as caught:
        FieldProtector({"a.b": action})
    error = caught.value
    assert error.code == "field.keyring_required"
    assert "keyring=" in str(error)
    assert "a.b" in str(error)
    # Catchable as a config mistake, a field or keyring error, or a missing argument.
    assert isinstance(error, ConfigError | ValueError)
    assert isinstance(error, FieldError)
    assert isinstance(error, KeyringError)
    assert isinstance(error, TypeError)


def test_field_protector_keyring_by_keyword_or_position() -> None:
    keyring = Keyring.generate("orders")
    for protector in (FieldProtector(SCHEMA, keyring=keyring), FieldProtector(SCHEMA, keyring)):
        stored = protector.protect(RECORD, context=CONTEXT)
        assert protector.reveal(stored, context=CONTEXT, clearance="restricted")["card"] == {
            "number": "4111111111111111"
        }
    with pytest.raises(TypeError):
        FieldProtector(SCHEMA, keyring="not a keyring")  # type: ignore[arg-type]


def test_schema_from_dict_json_text_yaml_text_or_file(tmp_path: Path) -> None:
    keyring = Keyring.generate("orders")
    as_json = json.dumps({"version": 1, "fields": SCHEMA})
    as_yaml = "fields:\n  card.number: {action: encrypt, classification: restricted}\n"
    path = tmp_path / "schema.json"
    path.write_text(as_json)
    for schema in (
        SCHEMA,
        as_json,
        as_yaml,
        path,
        FieldSchema.load(path),
        FieldSchema.parse(SCHEMA),
    ):
        stored = FieldProtector(schema, keyring=keyring).protect(RECORD, context=CONTEXT)
        assert stored["card"]["number"].startswith("ms1.")


def test_schema_may_list_rules_with_a_path_key() -> None:
    listed = {
        "version": 1,
        "fields": [
            {"path": "card.number", "action": "encrypt", "classification": "restricted"},
            {"path": "customer.phone", "action": "mask:keep_last:4"},
        ],
    }
    protector = FieldProtector(listed, keyring=Keyring.generate("orders"))
    stored = protector.protect(RECORD, context=CONTEXT)
    assert stored["card"]["number"].startswith("ms1.")
    assert stored["customer"]["phone"] == "************0018"
    duplicate = {"fields": [{"path": "a", "action": "drop"}, {"path": "a", "action": "encrypt"}]}
    with pytest.raises(ConfigError):
        FieldProtector(duplicate, keyring=Keyring.generate("orders"))


def test_protect_handles_dotted_paths_each_element_every_key_and_every_action() -> None:
    protector = FieldProtector(SCHEMA, keyring=Keyring.generate("orders"))
    stored = protector.protect(RECORD, context=CONTEXT)
    assert stored["id"] == 17
    assert stored["card"]["number"].startswith("ms1.orders-v1.")
    assert stored["customer"]["email"].startswith("mt1.orders-v1.")
    assert stored["customer"]["phone"] == "************0018"
    assert all(o["note"].startswith("ms1.") for o in stored["orders"][:2])
    assert stored["orders"][2] == {"sku": "x"}  # missing path: not created
    assert all(a["iban"].startswith("ms1.") for a in stored["accounts"].values())
    assert "internal_notes" not in stored


def test_protect_returns_a_new_record_and_never_mutates() -> None:
    protector = FieldProtector(SCHEMA, keyring=Keyring.generate("orders"))
    before = copy.deepcopy(RECORD)
    stored = protector.protect(RECORD, context=CONTEXT)
    assert before == RECORD
    assert stored is not RECORD
    snapshot = copy.deepcopy(stored)
    protector.reveal(stored, context=CONTEXT, clearance="restricted")
    protector.rotate(stored, context=CONTEXT)
    assert stored == snapshot


def test_reveal_by_clearance_and_one_data_access_event_without_values() -> None:
    protector = FieldProtector(SCHEMA, keyring=Keyring.generate("orders"))
    stored = protector.protect(RECORD, context=CONTEXT)
    with audit.capture() as events:
        out = protector.reveal(stored, context=CONTEXT, clearance=Classification.CONFIDENTIAL)
    assert out["customer"]["email"] == "ada@example.com"
    assert out["orders"][0]["note"] == "leave at door"
    assert out["card"]["number"] != "4111111111111111"
    assert "4111" not in json.dumps(out["card"])
    assert "GB82" not in json.dumps(out["accounts"])
    assert len(events) == 1
    event = events[0]
    assert event.category == audit.Category.DATA_ACCESS
    assert event.outcome == audit.Outcome.SUCCESS
    text = json.dumps(event.attributes, default=str)
    for path, level in (("card.number", "restricted"), ("customer.email", "confidential")):
        assert path in text
        assert f"{path}={level}" in text
    for value in ("4111111111111111", "ada@example.com", "leave at door", "GB82WEST", "0018"):
        assert value not in text
        assert value not in repr(event)


def test_rotate_reencrypts_every_envelope_under_the_primary() -> None:
    keyring = Keyring.generate("orders")
    protector = FieldProtector(SCHEMA, keyring=keyring)
    rows = [protector.protect(RECORD, context=CONTEXT)]
    keyring.rotate()
    rows.append(protector.protect(RECORD, context=CONTEXT))
    keyring.rotate()
    rows.append(protector.protect(RECORD, context=CONTEXT))
    assert {r["card"]["number"].split(".")[1] for r in rows} == {
        "orders-v1",
        "orders-v2",
        "orders-v3",
    }
    for row in rows:
        assert (
            protector.reveal(row, context=CONTEXT, clearance="restricted")["card"] == RECORD["card"]
        )
    moved = [protector.rotate(r, context=CONTEXT) for r in rows]
    for row in moved:
        assert row["card"]["number"].split(".")[1] == "orders-v3"
        assert {a["iban"].split(".")[1] for a in row["accounts"].values()} == {"orders-v3"}
    keyring.retire("orders-v1")
    with pytest.raises(DecryptionError):
        protector.reveal(rows[0], context=CONTEXT, clearance="restricted")
    assert (
        protector.reveal(moved[0], context=CONTEXT, clearance="restricted")["card"]
        == RECORD["card"]
    )


def test_search_tokens_find_rows_tokenized_before_and_after_rotation() -> None:
    keyring = Keyring.generate("orders")
    protector = FieldProtector(SCHEMA, keyring=keyring)
    old = protector.protect(RECORD, context=CONTEXT)["customer"]["email"]
    keyring.rotate()
    new = protector.protect(RECORD, context=CONTEXT)["customer"]["email"]
    found = Tokenizer(keyring).search_tokens("ada@example.com", field="customer.email")
    assert {old, new} <= set(found)


def test_unsupported_value_names_the_path_and_leaves_input_untouched() -> None:
    protector = FieldProtector(SCHEMA, keyring=Keyring.generate("orders"))
    record = copy.deepcopy(RECORD)
    record["orders"][1]["note"] = b"bytes"
    before = copy.deepcopy(record)
    with pytest.raises(FieldError) as caught:
        protector.protect(record, context=CONTEXT)
    assert isinstance(caught.value, UnsupportedValueError)
    assert caught.value.field == "orders[*].note"
    assert "orders[*].note" in str(caught.value)
    assert record == before


def test_custom_callable_masks() -> None:
    protector = FieldProtector(
        {"name": "mask:initials"},
        masks={"initials": lambda v: "".join(w[0] for w in str(v).split())},
    )
    assert protector.protect({"name": "Ada Lovelace"}, context={}) == {"name": "AL"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mask:redact", "[REDACTED]"),
        ("mask:null", None),
        ("mask:fixed:XXXX", "XXXX"),
        ("mask:last4", "************1111"),
        ("mask:keep_last:4", "************1111"),
        ("mask:first:6", "411111**********"),
        ("mask:keep_first:6", "411111**********"),
    ],
)
def test_schema_mask_operators(spec: str, expected: object) -> None:
    protector = FieldProtector({"v": spec})
    assert protector.protect({"v": "4111111111111111"}, context={}) == {"v": expected}


@pytest.mark.parametrize("spec", ["mask:hash", "mask:keyed_hash"])
def test_schema_keyed_hash_operator_spellings(spec: str) -> None:
    protector = FieldProtector({"v": spec}, keyring=Keyring.generate("orders"))
    stored = protector.protect({"v": "ada"}, context={})
    assert stored["v"].startswith("hmac:")
    # Clear text planted in a hashed column is hashed on reveal, whichever spelling.
    planted = protector.reveal({"v": "4111111111111111"}, context={}, clearance="restricted")
    assert planted["v"].startswith("hmac:")


def test_alias_keep_mask_still_remasks_planted_clear_text() -> None:
    protector = FieldProtector({"v": "mask:keep_last:4"})
    assert protector.reveal({"v": "4111111111111111"}, context={}, clearance="restricted") == {
        "v": "************1111"
    }


def test_keyless_protector_repr_says_so() -> None:
    assert repr(FieldProtector({"a": "drop"})) == "FieldProtector(rules=1, keyring=None)"
