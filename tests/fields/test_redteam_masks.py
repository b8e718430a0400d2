"""Red team: masking operators on hostile text and hostile types."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.errors import ConfigError
from meshsec.fields import (
    MASK_CHAR,
    UnsupportedValueError,
    mask_email,
    mask_keep_first,
    mask_keep_last,
    mask_keyed_hash,
    mask_redact,
    parse_mask,
)
from meshsec.fields._graphemes import graphemes

KEY = b"k" * 32


@pytest.mark.parametrize("mask", [mask_keep_first(4), mask_keep_last(4)])
def test_empty_and_one_character_values_are_never_shown(mask) -> None:  # type: ignore[no-untyped-def]
    assert mask("") == ""
    for one in ("a", "\u00e9", "e\u0301", "\U0001f469\u200d\U0001f4bb", "\U0001f1ec\U0001f1e7"):
        assert mask(one) == MASK_CHAR


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("e\u0301e\u0301e\u0301e\u0301", "e\u0301"),  # combining marks stay with their base
        ("\U0001f469\u200d\U0001f4bb" * 4, "\U0001f469\u200d\U0001f4bb"),  # ZWJ emoji whole
        ("\U0001f44d\U0001f3fd" * 4, "\U0001f44d\U0001f3fd"),  # skin tone modifier whole
        ("\U0001f1ec\U0001f1e7" * 4, "\U0001f1ec\U0001f1e7"),  # flag: two regional indicators
        ("#\ufe0f\u20e3" * 4, "#\ufe0f\u20e3"),  # keycap sequence
        ("\u1100\u1161\u11a8" * 4, "\u1100\u1161\u11a8"),  # conjoining Hangul syllable
        ("\u05e9\u05c1\u05dc\u05d5\u05dd", "\u05dd"),  # Hebrew with a point (RTL)
    ],
)
def test_keep_last_never_splits_a_user_perceived_character(value: str, kept: str) -> None:
    out = mask_keep_last(1)(value)
    assert isinstance(out, str)
    assert out.endswith(kept)
    assert out[: -len(kept)] == MASK_CHAR * (len(out) - len(kept))


def test_bidi_override_cannot_make_a_masked_value_look_revealed() -> None:
    value = "\u202e1111222233334444"
    out = mask_keep_last(4)(value)
    assert out == MASK_CHAR * 13 + "4444"
    assert "\u202e" not in out


@given(text=st.text(max_size=40), count=st.integers(min_value=0, max_value=50))
def test_keep_masks_show_at_most_half_and_only_whole_clusters(text: str, count: int) -> None:
    clusters = graphemes(text)
    for mask, first in ((mask_keep_first(count), True), (mask_keep_last(count), False)):
        out = mask(text)
        assert isinstance(out, str)
        kept = min(count, len(clusters) // 2)
        shown = clusters[:kept] if first else clusters[len(clusters) - kept :]
        hidden = MASK_CHAR * (len(clusters) - kept)
        assert out == ("".join(shown) + hidden if first else hidden + "".join(shown))
        assert mask(out) == out  # idempotent: a stored mask re-masked stays the same


@given(text=st.text(max_size=30))
def test_redact_leaves_nothing_of_the_value(text: str) -> None:
    assert mask_redact(text) == "[REDACTED]"
    assert mask_redact(text) == mask_redact("x" * 100)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("ada@example.com", "a***@example.com"),
        ("a@example.com", "***@example.com"),
        ("\u00e9lodie@b\u00fccher.de", "\u00e9***@b\u00fccher.de"),
        ("e\u0301lodie@x.org", "e\u0301***@x.org"),
        ("a***@example.com", "a***@example.com"),
    ],
)
def test_email_mask_shows_one_character_and_the_domain(value: str, shown: str) -> None:
    assert mask_email(value) == shown


@pytest.mark.parametrize(
    "value",
    [
        "",
        "@",
        "no at sign",
        "a@",
        "@example.com",
        "a@b.com and card 4111 1111 1111 1111",
        "a@b.com\n4111111111111111",
        "ada@exa mple.com",
        "ada@example.com ",
        "a b@example.com",
        "ada@-example.com",
        "ada@example..com",
        "ada@example.com/4111111111111111",
        7,
        ["ada@example.com"],
        {"a": "ada@example.com"},
    ],
)
def test_email_mask_redacts_anything_that_is_not_an_address(value: object) -> None:
    assert mask_email(value) == "[REDACTED]"


def test_email_mask_of_none_stays_none() -> None:
    assert mask_email(None) is None


def test_keyed_hash_is_never_a_bare_hash() -> None:
    value = "4111111111111111"
    tagged = mask_keyed_hash(KEY)(value)
    assert isinstance(tagged, str)
    assert tagged.startswith("hmac:")
    for bare in (hashlib.sha256(value.encode()), hashlib.sha256(b"s" + value.encode())):
        assert bare.hexdigest()[:16] not in tagged
    assert mask_keyed_hash(b"j" * 32)(value) != tagged
    assert mask_keyed_hash(KEY)(value) == tagged  # deterministic: joins still work


def test_keyed_hash_tells_types_apart() -> None:
    hashed = mask_keyed_hash(KEY)
    outputs = {hashed(v) for v in ("1", 1, 1.0, True, None, "null", "true", [1], "[1]")}
    assert len(outputs) == 9


@pytest.mark.parametrize("key", [b"", b"short", "k" * 32, None, 7])
def test_keyed_hash_refuses_weak_or_wrong_keys(key: object) -> None:
    with pytest.raises(ConfigError):
        mask_keyed_hash(key)  # type: ignore[arg-type]


def test_huge_ints_are_typed_errors_not_value_errors() -> None:
    for mask in (mask_keep_last(4), mask_keep_first(4), mask_keyed_hash(KEY)):
        with pytest.raises(UnsupportedValueError) as caught:
            mask(10**5000)
        assert "1000" not in str(caught.value)


def test_numbers_are_masked_through_their_text_and_containers_redacted() -> None:
    assert mask_keep_last(4)(4111111111111111) == "************1111"
    assert mask_keep_last(4)(-1.5) == "**.5"
    assert mask_keep_last(4)([{"pan": "4111111111111111"}]) == "[REDACTED]"
    assert mask_keep_last(4)({"pan": "4111111111111111"}) == "[REDACTED]"
    assert mask_keep_last(4)(None) is None


@pytest.mark.parametrize(
    "spec", ["last", "last-1", "last:1234", "first:x", "hash:", "nope", "", " last4", "LAST4", 4]
)
def test_unknown_mask_operators_are_config_errors(spec: object) -> None:
    with pytest.raises(ConfigError):
        parse_mask(spec, hash_key=lambda: KEY)  # type: ignore[arg-type]


@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_masked_text_is_valid_unicode_that_normalizes_cleanly(text: str) -> None:
    out = mask_keep_last(3)(text)
    assert isinstance(out, str)
    out.encode("utf-8")
    unicodedata.normalize("NFC", out)


def test_lone_surrogates_are_masked_without_errors_or_splits() -> None:
    value = "ab\ud800cd\udfffef"
    out = mask_keep_last(2)(value)
    assert out == MASK_CHAR * 6 + "ef"
    assert mask_keep_first(2)(value) == "ab" + MASK_CHAR * 6
    assert mask_email("\ud800x@example.com") == "\ud800***@example.com"
