"""Schema validation: every error is a ConfigError naming the offending path."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError
from meshsec.fields import Classification, FieldSchema

YAML = """
version: 1
fields:
  card.number: {action: encrypt, classification: restricted, reveal_mask: last4}
  customer.email: tokenize
  customer.phone: mask:last4
  orders[*].notes: drop
  accounts.*.iban: {action: encrypt, classification: confidential}
"""


def test_yaml_json_and_dict_forms_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from_yaml = FieldSchema.from_yaml(YAML)
    import yaml

    document = yaml.safe_load(YAML)
    from_json = FieldSchema.from_json(json.dumps(document))
    flat = FieldSchema.parse(document["fields"])
    assert from_yaml == from_json == flat
    path = tmp_path / "schema.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert FieldSchema.load(path) == from_yaml
    rules = {r.path: r for r in from_yaml.rules}
    assert rules["card.number"].reveal_mask == "last4"
    assert rules["accounts.*.iban"].classification is Classification.CONFIDENTIAL
    assert rules["customer.email"].classification is Classification.RESTRICTED
    assert rules["customer.phone"].mask == "last4"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"a..b": "encrypt"}, "a..b"),
        ({"a.[x]": "encrypt"}, "a.[x]"),
        ({"a.b*": "encrypt"}, "a.b*"),
        ({"": "encrypt"}, "''"),
        ({"a": "explode"}, "'a'"),
        ({"a": "mask:nope"}, "'a'"),
        ({"a": {"action": "encrypt", "classification": "secret"}}, "'a'"),
        ({"a": {"action": "encrypt", "colour": "red"}}, "'a'"),
        ({"a": {"action": "drop", "reveal_mask": "last4"}}, "'a'"),
        ({"a": {"action": "encrypt", "reveal_mask": "bogus"}}, "'a'"),
        ({"a": 5}, "'a'"),
        ({"a.b": "encrypt", "a.*": "drop"}, "'a.b'"),
        ({"a": "encrypt", "a.b": "mask:redact"}, "'a'"),
        ({"x[*].y": "encrypt", "x[*]": "drop"}, "'x[*].y'"),
    ],
)
def test_invalid_schemas_name_the_path(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FieldSchema.parse(fields)
    assert named in caught.value.message


def test_disjoint_wildcards_are_fine() -> None:
    schema = FieldSchema.parse(
        {"a[*].b": "encrypt", "a.b": "encrypt", "c.*.d": "drop", "c.x.e": "drop"}
    )
    assert len(schema.rules) == 4


@pytest.mark.parametrize(
    "document",
    [[], "fields", {"fields": {}, "version": 2}, {"fields": {}, "extra": 1}],
)
def test_bad_documents(document: object) -> None:
    with pytest.raises(ConfigError):
        FieldSchema.parse(document)  # type: ignore[arg-type]


def test_bad_json_and_yaml_text() -> None:
    with pytest.raises(ConfigError):
        FieldSchema.from_json("{nope")
    with pytest.raises(ConfigError):
        FieldSchema.from_yaml("a: [")


@given(path=st.text(max_size=20))
def test_any_path_text_parses_or_fails_typed(path: str) -> None:
    try:
        schema = FieldSchema.parse({path: "encrypt"})
    except ConfigError as exc:
        assert repr(path) in exc.message  # noqa: PT017  # the drawn path decides which branch
    else:
        assert schema.rules[0].path == path
        assert schema.rules[0].steps


def test_classification_order_and_parse() -> None:
    order = [Classification.parse(n) for n in ("public", "Internal", "CONFIDENTIAL", "restricted")]
    assert order == sorted(order)
    assert Classification.PUBLIC < Classification.RESTRICTED
    with pytest.raises(ConfigError):
        Classification.parse("top-secret")
