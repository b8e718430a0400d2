"""Masking operators: edge cases, Unicode safety, nothing of the original left."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError
from meshsec.fields import (
    mask_email,
    mask_fixed,
    mask_keep_first,
    mask_keep_last,
    mask_keyed_hash,
    mask_null,
    mask_redact,
    parse_mask,
)
from meshsec.fields._graphemes import graphemes

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence
FLAG = "\U0001f1eb\U0001f1f7"  # regional indicator pair
THUMBS = "\U0001f44d\U0001f3fd"  # emoji + skin tone
E_ACUTE = "e\u0301"  # combining sequence


def test_card_number_keeps_last_four() -> None:
    assert mask_keep_last(4)("4111111111111111") == "************1111"
    assert mask_keep_first(6)("4111111111111111") == "411111**********"


@pytest.mark.parametrize("mask", [mask_keep_last(4), mask_keep_first(4)])
def test_short_values_keep_at_most_half(mask) -> None:  # type: ignore[no-untyped-def]
    assert mask("") == ""
    assert mask("x") == "*"
    assert mask("ab") in ("a*", "*b")
    assert mask("1234").count("*") == 2


def test_grapheme_clusters_are_never_split() -> None:
    value = f"{E_ACUTE}{FAMILY}{FLAG}{THUMBS}abcd"
    assert graphemes(value)[:4] == [E_ACUTE, FAMILY, FLAG, THUMBS]
    assert mask_keep_last(4)(value) == "****abcd"
    assert mask_keep_last(6)(value) == "****abcd"  # at most half of 8 clusters
    assert mask_keep_first(2)(f"{FAMILY}{E_ACUTE}xyz") == f"{FAMILY}{E_ACUTE}***"
    assert mask_keep_first(1)(f"{E_ACUTE}{E_ACUTE}") == f"{E_ACUTE}*"
    assert mask_keep_last(1)(f"{FAMILY}{FAMILY}{FAMILY}x") == "***x"


@given(text=st.text())
def test_keep_masks_keep_whole_clusters_only(text: str) -> None:
    clusters = graphemes(text)
    assert "".join(clusters) == text
    kept = min(4, len(clusters) // 2)
    suffix = "".join(clusters[len(clusters) - kept :])
    prefix = "".join(clusters[:kept])
    hidden = "*" * (len(clusters) - kept)
    assert mask_keep_last(4)(text) == hidden + suffix
    assert mask_keep_first(4)(text) == prefix + hidden


@given(value=st.text() | st.integers() | st.none() | st.booleans())
def test_redacted_values_keep_nothing_of_the_original(value: object) -> None:
    assert mask_redact(value) == "[REDACTED]"
    assert mask_null(value) is None
    assert mask_fixed("n/a")(value) == "n/a"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("john.doe@example.com", "j***@example.com"),
        ("a@example.com", "***@example.com"),
        (f"{E_ACUTE}mile@example.fr", f"{E_ACUTE}***@example.fr"),
        ("odd@local@example.com", "o***@example.com"),
        ("not-an-email", "[REDACTED]"),
        ("@example.com", "[REDACTED]"),
        ("john@", "[REDACTED]"),
        ("", "[REDACTED]"),
        (12, "[REDACTED]"),
        (None, None),
    ],
)
def test_email_mask(value: object, expected: object) -> None:
    assert mask_email(value) == expected


def test_email_mask_hides_local_part_length() -> None:
    assert mask_email("ab@x.org") == mask_email("abcdefgh@x.org") == "a***@x.org"


def test_non_string_values() -> None:
    assert mask_keep_last(4)(4111111111111111) == "************1111"
    assert mask_keep_last(2)(None) is None
    assert mask_keep_last(2)([1, 2]) == "[REDACTED]"
    assert mask_keep_last(2)({"a": 1}) == "[REDACTED]"
    assert mask_keep_last(1)(True) == "***e"


def test_keyed_hash_is_keyed_deterministic_and_not_a_bare_hash() -> None:
    one, two = mask_keyed_hash(b"k" * 32), mask_keyed_hash(b"j" * 32)
    assert one("alice") == one("alice")
    assert one("alice") != two("alice")
    assert one("alice") != one("bob")
    assert one("7") != one(7)
    assert one("alice").startswith("hmac:")
    assert "alice" not in one("alice")
    with pytest.raises(ConfigError):
        mask_keyed_hash(b"short")


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("redact", "x", "[REDACTED]"),
        ("null", "x", None),
        ("email", "jo@x.io", "j***@x.io"),
        ("last4", "123456789", "*****6789"),
        ("last:2", "123456789", "*******89"),
        ("first2", "123456789", "12*******"),
        ("fixed:<hidden>", "x", "<hidden>"),
    ],
)
def test_parse_mask(spec: str, value: object, expected: object) -> None:
    assert parse_mask(spec)(value) == expected


def test_parse_mask_custom_and_unknown() -> None:
    assert parse_mask("upper", custom={"upper": lambda v: str(v).upper()})("ab") == "AB"
    for bad in ("nope", "last", "last:x", "hash", 4):
        with pytest.raises(ConfigError):
            parse_mask(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        mask_keep_last(-1)


def test_crlf_is_one_cluster() -> None:
    assert graphemes("a\r\nb") == ["a", "\r\n", "b"]
    assert graphemes("\u00e9\r\n") == ["\u00e9", "\r\n"]
    assert mask_keep_last(1)("ab\r\n") == "**\r\n"
