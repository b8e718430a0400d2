"""FieldProtector: protect/reveal round trips, clearance, audit, rotation, atomicity."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec import audit
from meshsec.context import SecurityContext, run_as
from meshsec.errors import ConfigError, FieldError
from meshsec.fields import (
    Classification,
    DecryptionError,
    FieldProtector,
    Keyring,
    UnsupportedValueError,
    is_envelope,
)
from tests.fields.conftest import CONTEXT, json_values

REVERSIBLE = {
    "ssn": "encrypt",
    "profile.email": "tokenize",
    "cards[*].number": "encrypt",
    "accounts.*.iban": {"action": "encrypt", "classification": "confidential"},
    "matrix[*][*]": "tokenize",
}
_SHARED = FieldProtector(REVERSIBLE, keyring=Keyring.generate("shared"))

records = st.fixed_dictionaries(
    {},
    optional={
        "ssn": json_values,
        "profile": st.fixed_dictionaries({}, optional={"email": json_values, "age": json_values}),
        "cards": st.lists(
            st.fixed_dictionaries({}, optional={"number": json_values, "exp": st.text()}),
            max_size=3,
        ),
        "accounts": st.dictionaries(
            st.text(max_size=5), st.fixed_dictionaries({}, optional={"iban": json_values})
        ),
        "matrix": st.lists(st.lists(json_values, max_size=3), max_size=3),
        "other": json_values,
    },
)

SCHEMA = {
    "fields": {
        "card.number": {
            "action": "encrypt",
            "classification": "restricted",
            "reveal_mask": "last4",
        },
        "card.holder": {"action": "encrypt", "classification": "confidential"},
        "customer.email": {"action": "tokenize", "classification": "confidential"},
        "customer.phone": {"action": "mask:last4", "classification": "internal"},
        "customer.ref": {"action": "tokenize:irreversible", "classification": "internal"},
        "notes": "drop",
        "items[*].sku": {"action": "encrypt", "classification": "internal"},
    }
}
RECORD = {
    "id": 7,
    "card": {"number": "4111111111111111", "holder": "Ada Lovelace"},
    "customer": {"email": "ada@example.com", "phone": "+44 20 7946 0018", "ref": "C-1"},
    "notes": "call before delivery",
    "items": [{"sku": "A-1", "qty": 1}, {"qty": 2}, {"sku": "B-2"}],
}


@pytest.fixture
def protector(keyring: Keyring) -> FieldProtector:
    return FieldProtector(SCHEMA, keyring=keyring)


@given(record=records)
def test_records_round_trip_with_full_clearance(record: dict[str, object]) -> None:
    before = copy.deepcopy(record)
    protected = _SHARED.protect(record, context=CONTEXT)
    assert record == before
    revealed = _SHARED.reveal(protected, context=CONTEXT, clearance="restricted")
    assert revealed == record
    assert json.loads(json.dumps(protected)) == protected  # JSON-safe all the way


@given(record=records)
def test_envelopes_swapped_between_records_fail(record: dict[str, object]) -> None:
    protected = _SHARED.protect(record, context={"record_id": 1})
    envelopes = [v for v in _leaves(protected) if is_envelope(v)]
    if envelopes:
        with pytest.raises(DecryptionError):
            _SHARED.reveal(protected, context={"record_id": 2}, clearance="restricted")


def test_envelope_swapped_between_fields_fails(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    swapped = copy.deepcopy(protected)
    swapped["card"]["holder"] = protected["card"]["number"]
    with pytest.raises(DecryptionError):
        protector.reveal(swapped, context=CONTEXT, clearance="restricted")
    swapped = copy.deepcopy(protected)
    swapped["items"][0]["sku"] = protected["card"]["holder"]
    with pytest.raises(DecryptionError):
        protector.reveal(swapped, context=CONTEXT, clearance="public")


def test_protect_output(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    assert is_envelope(protected["card"]["number"])
    assert is_envelope(protected["items"][0]["sku"])
    assert protected["items"][1] == {"qty": 2}, "missing paths are not created"
    assert protected["customer"]["email"].startswith("mt1.")
    assert protected["customer"]["ref"].startswith("mh1.")
    assert protected["customer"]["phone"] == "************0018"
    assert "notes" not in protected
    text = json.dumps(protected)
    for secret in ("4111111111111111", "Ada Lovelace", "ada@example.com", "A-1", "delivery"):
        assert secret not in text


def test_reveal_by_clearance(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    full = protector.reveal(protected, context=CONTEXT, clearance=Classification.RESTRICTED)
    assert full["card"] == RECORD["card"]
    assert full["customer"]["email"] == "ada@example.com"
    assert full["customer"]["phone"] == "************0018"
    assert full["customer"]["ref"] == protected["customer"]["ref"]

    middle = protector.reveal(protected, context=CONTEXT, clearance="confidential")
    assert middle["card"]["number"] == "************1111"
    assert middle["card"]["holder"] == "Ada Lovelace"
    assert middle["items"][0]["sku"] == "A-1"

    low = protector.reveal(protected, context=CONTEXT, clearance="internal")
    assert low["card"] == {"number": "************1111", "holder": "[REDACTED]"}
    assert low["customer"]["email"] == protected["customer"]["email"], "token is the masked view"
    assert low["items"][2]["sku"] == "B-2"

    public = protector.reveal(protected, context=CONTEXT, clearance="public")
    assert public["items"][0]["sku"] == "[REDACTED]"


def test_each_reveal_emits_one_data_access_event_without_values(
    protector: FieldProtector,
) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    with audit.capture() as events, run_as(SecurityContext(principal="spiffe://acme/billing")):
        protector.reveal(protected, context=CONTEXT, clearance="confidential")
    assert len(events) == 1
    event = events[0]
    assert event.category is audit.Category.DATA_ACCESS
    assert event.outcome is audit.Outcome.SUCCESS
    assert event.actor == "spiffe://acme/billing"
    attrs = dict(event.attributes)
    assert attrs["clearance"] == "confidential"
    assert "card.holder=confidential" in attrs["revealed_fields"]
    assert "card.number=restricted" in attrs["masked_fields"]
    dumped = json.dumps(event.to_dict())
    for secret in ("4111", "Ada", "ada@example.com", "A-1", "0018"):
        assert secret not in dumped


def test_failed_reveal_emits_one_failure_event(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    with audit.capture() as events, pytest.raises(DecryptionError):
        protector.reveal(protected, context={"tenant": "evil"}, clearance="restricted")
    assert [(e.outcome, e.reason) for e in events] == [
        (audit.Outcome.FAILURE, "field.decryption_failed")
    ]


def test_plaintext_planted_in_an_encrypted_field_is_refused(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    protected["card"]["number"] = "4111111111111111"
    with pytest.raises(DecryptionError):
        protector.reveal(protected, context=CONTEXT, clearance="restricted")
    protected = protector.protect(RECORD, context=CONTEXT)
    protected["customer"]["email"] = "ada@example.com"
    with pytest.raises(DecryptionError):
        protector.reveal(protected, context=CONTEXT, clearance="public")


def test_dropped_field_planted_in_storage_never_leaves(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    protected["notes"] = "planted"
    revealed = protector.reveal(protected, context=CONTEXT, clearance="restricted")
    assert "notes" not in revealed


def test_errors_leave_input_untouched_and_return_nothing_partial(
    protector: FieldProtector,
) -> None:
    record = copy.deepcopy(RECORD)
    record["items"].append({"sku": {1, 2}})
    before = repr(record)
    with pytest.raises(UnsupportedValueError) as caught:
        protector.protect(record, context=CONTEXT)
    assert "items[*].sku" in caught.value.message
    assert repr(record) == before
    protected = protector.protect(RECORD, context=CONTEXT)
    snapshot = copy.deepcopy(protected)
    protected["items"][2]["sku"] = protected["items"][2]["sku"][:-2]
    snapshot["items"][2]["sku"] = protected["items"][2]["sku"]
    with pytest.raises(DecryptionError):
        protector.reveal(protected, context=CONTEXT, clearance="restricted")
    assert protected == snapshot


def test_protect_and_reveal_never_mutate(protector: FieldProtector) -> None:
    record = copy.deepcopy(RECORD)
    protected = protector.protect(record, context=CONTEXT)
    assert record == RECORD
    frozen = copy.deepcopy(protected)
    revealed = protector.reveal(protected, context=CONTEXT, clearance="restricted")
    assert protected == frozen
    revealed["items"][0]["qty"] = 99
    assert protected["items"][0]["qty"] == 1


@pytest.mark.parametrize(
    "record",
    [{}, {"card": "not a mapping"}, {"card": None}, {"items": "x"}, {"items": [1, None, "s"]}, []],
)
def test_missing_or_mismatched_paths_are_ignored(protector: FieldProtector, record: object) -> None:
    assert protector.protect(record, context=CONTEXT) == record


def test_rotate_moves_every_envelope_to_the_primary(keyring: Keyring) -> None:
    protector = FieldProtector(SCHEMA, keyring=keyring)
    written = [protector.protect(RECORD, context=CONTEXT)]
    keyring.rotate()
    written.append(protector.protect(RECORD, context=CONTEXT))
    keyring.rotate()
    written.append(protector.protect(RECORD, context=CONTEXT))
    for record in written:
        assert (
            protector.reveal(record, context=CONTEXT, clearance="restricted")["card"]
            == (RECORD["card"])
        )
    rotated = [protector.rotate(r, context=CONTEXT) for r in written]
    keyring.retire("orders-v1")
    keyring.retire("orders-v2")
    for record in rotated:
        envelopes = [v for v in _leaves(record) if is_envelope(v) or str(v).startswith("mt1.")]
        assert envelopes
        assert all(".orders-v3." in v for v in envelopes)
        revealed = protector.reveal(record, context=CONTEXT, clearance="restricted")
        assert revealed["card"] == RECORD["card"]
        assert revealed["customer"]["email"] == "ada@example.com"
    with pytest.raises(DecryptionError):
        protector.reveal(written[0], context=CONTEXT, clearance="restricted")


def test_search_tokens_from_the_schema(keyring: Keyring) -> None:
    protector = FieldProtector(SCHEMA, keyring=keyring)
    old = protector.protect(RECORD, context=CONTEXT)["customer"]["email"]
    keyring.rotate()
    new = protector.protect(RECORD, context=CONTEXT)["customer"]["email"]
    assert set(protector.search_tokens("ada@example.com", field="customer.email")) == {old, new}
    assert len(protector.search_tokens("C-1", field="customer.ref")) == 2
    with pytest.raises(FieldError):
        protector.search_tokens("x", field="card.number")


def test_custom_and_hash_masks(keyring: Keyring) -> None:
    protector = FieldProtector(
        {"a": "mask:initials", "b": "mask:hash", "c": "mask:email", "d": "mask:null"},
        keyring=keyring,
        masks={"initials": lambda v: "".join(w[0] for w in str(v).split())},
    )
    out = protector.protect({"a": "Ada King Lovelace", "b": "x", "c": "a@b.co", "d": 1}, context={})
    assert out["a"] == "AKL"
    assert out["b"].startswith("hmac:")
    assert out == protector.protect(
        {"a": "Ada King", "b": "x", "c": "a@b.co", "d": 1}, context={}
    ) | {"a": "AKL"}
    assert out["c"] == "***@b.co"
    assert out["d"] is None
    with pytest.raises(ConfigError):
        FieldProtector({"a": "mask:x"}, keyring=keyring, masks={"x": "not callable"})  # type: ignore[dict-item]


def test_drop_list_elements(keyring: Keyring) -> None:
    protector = FieldProtector({"tags[*]": "drop", "m.*": "drop"}, keyring=keyring)
    assert protector.protect({"tags": [1, 2, 3], "m": {"a": 1, "b": 2}, "k": 1}, context={}) == {
        "tags": [],
        "m": {},
        "k": 1,
    }


def test_repr_has_no_keys(protector: FieldProtector, keyring: Keyring) -> None:
    assert keyring._primary.material.reveal().hex() not in repr(protector)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_clear_text_planted_in_a_mask_field_is_masked_on_reveal(
    protector: FieldProtector,
) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    protected["customer"]["phone"] = "+44 20 7946 0018"
    revealed = protector.reveal(protected, context=CONTEXT, clearance="restricted")
    assert revealed["customer"]["phone"] == "************0018"


@pytest.mark.parametrize("spec", ["redact", "null", "email", "last4", "first:2", "fixed:x"])
def test_builtin_masks_are_idempotent(keyring: Keyring, spec: str) -> None:
    protector = FieldProtector({"v": f"mask:{spec}"}, keyring=keyring)
    for value in ("ada@example.com", "a@b.co", "4111111111111111", "x", ""):
        once = protector.protect({"v": value}, context={})
        assert protector.reveal(once, context={}, clearance="restricted") == once


def test_unknown_clearance_is_a_config_error(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    with pytest.raises(ConfigError):
        protector.reveal(protected, context=CONTEXT, clearance="top-secret")


def test_full_clearance_reveal_lists_every_present_field(protector: FieldProtector) -> None:
    protected = protector.protect(RECORD, context=CONTEXT)
    with audit.capture() as events:
        protector.reveal(protected, context=CONTEXT, clearance="restricted")
    attrs = dict(events[0].attributes)
    assert attrs["masked_fields"] == ""
    assert attrs["revealed_count"] == 6  # notes was dropped, so it is not present


def test_failing_custom_mask_is_a_field_error_without_the_value(keyring: Keyring) -> None:
    def explode(value: object) -> object:
        raise ValueError(f"cannot mask {value}")

    protector = FieldProtector({"a": "mask:explode"}, keyring=keyring, masks={"explode": explode})
    with pytest.raises(FieldError) as caught:
        protector.protect({"a": "4111111111111111"}, context={})
    assert "4111" not in str(caught.value)
    assert "'a'" in caught.value.message
    assert caught.value.__cause__ is None


def test_custom_mask_may_shadow_a_builtin_name(keyring: Keyring) -> None:
    calls: list[object] = []

    def last4(value: object) -> object:
        calls.append(value)
        return "custom"

    protector = FieldProtector({"a": "mask:last4"}, keyring=keyring, masks={"last4": last4})
    protected = protector.protect({"a": "123456"}, context={})
    assert protected == {"a": "custom"}
    assert protector.reveal(protected, context={}, clearance="public") == {"a": "custom"}
    assert calls == ["123456"], "custom masks are not re-applied on reveal"


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


def test_masks_over_lists_of_dicts_with_missing_and_non_string_values(keyring: Keyring) -> None:
    protector = FieldProtector(
        {"contacts[*].phone": "mask:last4", "contacts[*].email": "mask:email"}, keyring=keyring
    )
    record = {
        "contacts": [
            {"phone": "+1 555 010 0199", "email": "ada@example.com"},
            {"phone": 5550100199},
            {"email": None},
            {},
            "not a dict",
            {"phone": "", "email": ""},
            {"phone": "7", "email": ["x@y.z"]},
            {"phone": FAMILY * 2},
        ]
    }
    assert protector.protect(record, context={}) == {
        "contacts": [
            {"phone": "***********0199", "email": "a***@example.com"},
            {"phone": "******0199"},
            {"email": None},
            {},
            "not a dict",
            {"phone": "", "email": "[REDACTED]"},
            {"phone": "*", "email": "[REDACTED]"},
            {"phone": "*" + FAMILY},
        ]
    }
