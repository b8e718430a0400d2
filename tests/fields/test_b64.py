"""The strict base64url decoder accepts exactly the canonical encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.fields._b64 import b64d, b64e


@given(data=st.binary(max_size=64))
def test_round_trip(data: bytes) -> None:
    assert b64d(b64e(data)) == data


@given(text=st.text(alphabet="AQgwBz09-_+/= \n\u00e9", max_size=12))
def test_anything_accepted_is_canonical(text: str) -> None:
    try:
        data = b64d(text)
    except ValueError:
        return
    assert b64e(data) == text


@pytest.mark.parametrize(
    "text", ["A", "AB", "AAB", "AA+A", "AA/A", "AA==", "AAA=", "A A", "\u00e9AAA"]
)
def test_non_canonical_or_foreign_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64d(text)
