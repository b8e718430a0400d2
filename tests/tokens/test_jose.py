"""The strict base64url and JSON layer: round trips and canonical-only decoding."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.tokens import MalformedToken, _jose

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.binary(max_size=200))
def test_base64url_round_trip(data: bytes) -> None:
    assert _jose.b64decode(_jose.b64encode(data)) == data


@given(st.text(alphabet=ALPHABET + "=+/ \n.", max_size=80))
def test_only_the_canonical_encoding_is_accepted(text: str) -> None:
    segment = text.encode()
    try:
        decoded = _jose.b64decode(segment)
    except MalformedToken:
        return
    assert _jose.b64encode(decoded) == segment


@given(st.text(alphabet=ALPHABET, min_size=2, max_size=40))
def test_agrees_with_the_standard_library_on_canonical_input(text: str) -> None:
    segment = text.encode()
    with contextlib.suppress(MalformedToken):
        decoded = _jose.b64decode(segment)
        assert base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)) == decoded


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_json_object_round_trip(value: dict) -> None:
    assert _jose.loads_object(_jose.dumps(value), "payload") == value


@given(st.binary(max_size=200))
def test_json_arbitrary_bytes_raise_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedToken):
        assert isinstance(_jose.loads_object(data, "payload"), dict)


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":1}',
        '{"a":{"b":1,"b":2}}',
        '[{"a":1,"a":2}]',
        '{"a":NaN}',
        '{"a":-Infinity}',
        "[]",
    ],
)
def test_json_ambiguities_rejected(text: str) -> None:
    with pytest.raises(MalformedToken):
        _jose.loads_object(text.encode(), "payload")


def test_json_is_utf8_only() -> None:
    with pytest.raises(MalformedToken):
        _jose.loads_object(json.dumps({"a": "é"}).encode("utf-16"), "payload")
