"""Deterministic tokens: equality, per-field separation, search across rotation."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given

from meshsec.errors import FieldError
from meshsec.fields import DecryptionError, Keyring, Tokenizer
from tests.fields.conftest import json_values

_SHARED = Keyring.generate("tok")


@given(value=json_values)
def test_reversible_tokens_round_trip_with_type(value: object) -> None:
    tokenizer = Tokenizer(_SHARED)
    token = tokenizer.tokenize(value, field="f")
    back = tokenizer.detokenize(token, field="f")
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("reversible", [True, False])
def test_tokens_are_deterministic_and_field_separated(keyring: Keyring, reversible: bool) -> None:
    tokenizer = Tokenizer(keyring, reversible=reversible)
    a1 = tokenizer.tokenize("alice@example.com", field="customer.email")
    a2 = tokenizer.tokenize("alice@example.com", field="customer.email")
    other_field = tokenizer.tokenize("alice@example.com", field="billing.email")
    assert a1 == a2
    assert a1.split(".")[2] != other_field.split(".")[2]
    assert tokenizer.tokenize("bob@example.com", field="customer.email") != a1
    assert tokenizer.tokenize("7", field="f") != tokenizer.tokenize(7, field="f")


def test_reversible_and_irreversible_tokens_are_unrelated(keyring: Keyring) -> None:
    siv = Tokenizer(keyring).tokenize("x", field="f")
    mac = Tokenizer(keyring, reversible=False).tokenize("x", field="f")
    assert siv.startswith("mt1.orders-v1.")
    assert mac.startswith("mh1.orders-v1.")
    assert siv.split(".")[2] != mac.split(".")[2]


@pytest.mark.parametrize("reversible", [True, False])
def test_search_finds_rows_written_before_and_after_rotation(
    keyring: Keyring, reversible: bool
) -> None:
    tokenizer = Tokenizer(keyring, reversible=reversible)
    rows = {"r1": tokenizer.tokenize("alice", field="email")}
    keyring.rotate()
    rows["r2"] = tokenizer.tokenize("alice", field="email")
    keyring.rotate()
    rows["r3"] = tokenizer.tokenize("bob", field="email")
    wanted = set(tokenizer.search_tokens("alice", field="email"))
    assert len(wanted) == 3
    assert sorted(r for r, token in rows.items() if token in wanted) == ["r1", "r2"]
    assert tokenizer.search_tokens("alice", field="email")[0].split(".")[1] == "orders-v3"


def test_detokenize_old_versions_and_retired_fail(keyring: Keyring) -> None:
    tokenizer = Tokenizer(keyring)
    old = tokenizer.tokenize("v", field="f")
    keyring.rotate()
    assert tokenizer.detokenize(old, field="f") == "v"
    keyring.retire("orders-v1")
    with pytest.raises(DecryptionError):
        tokenizer.detokenize(old, field="f")


def test_token_moved_to_another_field_fails(keyring: Keyring) -> None:
    tokenizer = Tokenizer(keyring)
    token = tokenizer.tokenize("v", field="a")
    with pytest.raises(DecryptionError):
        tokenizer.detokenize(token, field="b")


def test_every_single_bit_flip_of_a_token_fails(keyring: Keyring) -> None:
    tokenizer = Tokenizer(keyring)
    token = tokenizer.tokenize("4111111111111111", field="card")
    raw = token.encode("ascii")
    for i in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[i] ^= 1 << bit
            with pytest.raises(DecryptionError):
                tokenizer.detokenize(flipped.decode("latin-1"), field="card")
    for cut in range(len(token)):
        with pytest.raises(DecryptionError):
            tokenizer.detokenize(token[:cut], field="card")


def test_irreversible_tokens_cannot_be_detokenized(keyring: Keyring) -> None:
    tokenizer = Tokenizer(keyring, reversible=False)
    token = tokenizer.tokenize("v", field="f")
    with pytest.raises(FieldError, match="irreversible"):
        tokenizer.detokenize(token, field="f")


def test_tokenizer_repr_and_pickle(keyring: Keyring) -> None:
    tokenizer = Tokenizer(keyring)
    assert keyring._primary.material.reveal().hex() not in repr(tokenizer)
    with pytest.raises(TypeError):
        pickle.dumps(tokenizer)


def test_field_must_be_a_string(keyring: Keyring) -> None:
    from meshsec.fields import UnsupportedValueError

    for call in (Tokenizer(keyring).tokenize, Tokenizer(keyring).search_tokens):
        with pytest.raises(UnsupportedValueError):
            call("v", field=None)  # type: ignore[arg-type]
