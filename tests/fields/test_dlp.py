"""DLP: corpus precision and recall, checksums, normalization, redaction, logging."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.fields import DlpLogFilter, Finding, FindingKind, redact, redact_text, scan

CORPUS = json.loads((Path(__file__).parent / "dlp_corpus.json").read_text(encoding="utf-8"))


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS["positive"]) >= 50
    assert len(CORPUS["negative"]) >= 50


def test_corpus_precision_and_recall_are_total() -> None:
    true_pos = false_pos = false_neg = 0
    misses = []
    for sample in CORPUS["positive"]:
        found = {f.kind.value for f in scan(sample["text"])}
        expected = set(sample["kinds"])
        true_pos += len(found & expected)
        false_neg += len(expected - found)
        false_pos += len(found - expected)
        if found != expected:
            misses.append((sample["text"][:40], sorted(found), sorted(expected)))
    for sample in CORPUS["negative"]:
        found = {f.kind.value for f in scan(sample["text"])}
        false_pos += len(found)
        if found:
            misses.append((sample["text"][:40], sorted(found), []))
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    assert (precision, recall) == (1.0, 1.0), misses


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


@given(body=st.text("0123456789", min_size=14, max_size=14), wrong=st.integers(1, 9))
def test_luhn_decides_for_visa_numbers(body: str, wrong: int) -> None:
    number = "4" + body
    good = number + _luhn_digit(number)
    bad = number + str((int(_luhn_digit(number)) + wrong) % 10)
    assert [f.kind for f in scan(f"pan {good} end")] == [FindingKind.CARD]
    assert scan(f"pan {bad} end") == []
    grouped = " ".join(good[i : i + 4] for i in range(0, 16, 4))
    assert [f.kind for f in scan(grouped)] == [FindingKind.CARD]


@pytest.mark.parametrize(
    "disguise",
    [
        "4111-1111-1111-1111",
        "4111.1111.1111.1111",
        "4111/1111/1111/1111",
        "4111 - 1111 - 1111 - 1111",
        "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
        "4\u200b1\u200c1\u200d1\u20601111\ufeff11111111",
        "4111\u00a01111\u202f1111\u20071111",
        "4111\u20141111\u20131111\u22121111".replace("\u2212", "-"),
        "\u0664" + "\u0661" * 15,  # Arabic-Indic digits
        " ".join(["\u096a\u0967\u0967\u0967"] + ["\u0967" * 4] * 3),  # Devanagari digits
    ],
)
def test_card_cannot_hide_behind_formatting(disguise: str) -> None:
    assert [f.kind for f in scan(f"x {disguise} y")] == [FindingKind.CARD]
    redacted = redact_text(f"x {disguise} y")
    assert redacted == "x [REDACTED:card] y"


def test_nested_paths_and_kinds_never_values() -> None:
    doc = {
        "user": {"email": "ada@example.com", "cards": [{"pan": 4111111111111111}, {"pan": "n/a"}]},
        "notes": ["fine", "ssn 123-45-6789"],
        "odd key": "GB82WEST12345698765432",
        "password": "hunter2",
        "count": 3,
        "flag": True,
    }
    findings = scan(doc)
    assert findings == [
        Finding("user.email", FindingKind.EMAIL),
        Finding("user.cards[0].pan", FindingKind.CARD),
        Finding("notes[1]", FindingKind.SSN),
        Finding("$['odd key']", FindingKind.IBAN),
        Finding("password", FindingKind.SECRET),
    ]
    text = repr(findings)
    for secret in ("ada@", "4111", "6789", "GB82", "hunter2"):
        assert secret not in text
    assert scan("ssn 123-45-6789") == [Finding("$", FindingKind.SSN)]


def test_redact_copies_and_masks() -> None:
    doc = {"a": ["mail ada@example.com now", {"b": 4111111111111111}], "c": "clean", "d": None}
    before = json.dumps(doc)
    out = redact(doc)
    assert json.dumps(doc) == before
    assert out == {
        "a": ["mail [REDACTED:email] now", {"b": "[REDACTED:card]"}],
        "c": "clean",
        "d": None,
    }
    assert scan(out) == []


def test_redact_keeps_no_part_of_a_private_key() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    out = redact_text(f"before {pem} after")
    assert out == "before [REDACTED:private_key] after"


def test_cycles_and_deep_nesting_do_not_crash() -> None:
    loop: list[object] = ["ada@example.com"]
    loop.append(loop)
    assert scan(loop) == [Finding("$[0]", FindingKind.EMAIL)]
    assert redact(loop) == ["[REDACTED:email]", None]
    deep: object = "ada@example.com"
    for _ in range(300):
        deep = [deep]
    # Beyond the depth bound nothing is scanned (no RecursionError), but the
    # unscanned subtree is reported at its cut-off path, never passed as clean.
    assert scan(deep) == [Finding("$" + "[0]" * 101, FindingKind.TOO_DEEP)]


def test_secret_wrapped_in_many_lists_is_not_passed_as_clean() -> None:
    # The open item from review: a secret below the depth bound used to give no finding.
    for depth in (101, 102, 150):
        deep: object = "AKIAIOSFODNN7EXAMPLE"
        for _ in range(depth):
            deep = [deep]
        assert scan(deep), depth
    shallow: object = "tame"
    for _ in range(100):
        shallow = [shallow]
    assert scan(shallow) == []  # within the bound: scanned and clean


@given(text=st.text())
def test_scan_and_redact_accept_any_text(text: str) -> None:
    findings = scan(text)
    assert all(f.path == "$" for f in findings)
    assert (redact_text(text) == text) == (not findings)


@given(
    parts=st.lists(
        st.sampled_from(
            [
                "4111111111111111",
                " ",
                "-",
                ".",
                "x",
                "7",
                "\u200b",
                "ada@example.com",
                "123-45-6789",
                "GB82WEST12345698765432",
                "AKIAIOSFODNN7EXAMPLE",
                "password=",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
            ]
        ),
        max_size=12,
    )
)
def test_redacted_text_has_no_findings_left(parts: list[str]) -> None:
    text = "".join(parts)
    assert scan(redact_text(text)) == []


def _logger(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(f"meshsec.test.dlp.{id(stream)}")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.addFilter(DlpLogFilter())
    return logger


def test_log_filter_redacts_messages_and_arguments() -> None:
    stream = io.StringIO()
    logger = _logger(stream)
    logger.warning("charging card %s for %s", "4111 1111 1111 1111", "ada@example.com")
    logger.warning("plain message %d", 42)
    logger.warning({"ssn": "123-45-6789"})
    lines = stream.getvalue().splitlines()
    assert lines == [
        "charging card [REDACTED:card] for [REDACTED:email]",
        "plain message 42",
        "{'ssn': '[REDACTED:ssn]'}",
    ]


def test_log_filter_redacts_tracebacks() -> None:
    stream = io.StringIO()
    logger = _logger(stream)
    try:
        int("bad card 4111111111111111")
    except ValueError:
        logger.exception("failed for %s", "ada@example.com")
    out = stream.getvalue()
    assert "4111111111111111" not in out
    assert "ada@example.com" not in out
    assert "[REDACTED:card]" in out


def test_log_filter_survives_broken_format() -> None:
    stream = io.StringIO()
    logger = _logger(stream)
    record = logger.makeRecord(logger.name, logging.INFO, "f", 1, "%s %s", ("one",), None)
    assert DlpLogFilter().filter(record) is True


def test_many_findings_in_one_string_are_all_reported() -> None:
    text = "a@b.io 4111111111111111 " * 3000
    kinds = [f.kind for f in scan(text)]
    assert kinds.count(FindingKind.EMAIL) == 3000
    assert kinds.count(FindingKind.CARD) == 3000


def test_redact_drops_subtrees_too_deep_to_scan() -> None:
    deep: object = "4111111111111111"
    for _ in range(150):
        deep = {"x": deep}
    out = redact(deep)
    assert "4111" not in json.dumps(out)


def test_tuples_and_sets_are_scanned_and_redacted() -> None:
    doc = {"t": ("ok", "ada@example.com"), "s": {"4111111111111111"}}
    assert [f.kind for f in scan(doc)] == [FindingKind.EMAIL, FindingKind.CARD]
    assert redact(doc) == {"t": ("ok", "[REDACTED:email]"), "s": ["[REDACTED:card]"]}


@pytest.mark.parametrize(
    "key", ["password", "DB_PASSWORD", "X-Api-Key", "csrfToken", "AWS_SECRET_ACCESS_KEY", "Cookie"]
)
def test_values_under_secret_keys_are_secrets(key: str) -> None:
    assert [f.kind for f in scan({key: "tame"})] == [FindingKind.SECRET]
    assert redact({key: "tame"}) == {key: "[REDACTED:secret]"}


@pytest.mark.parametrize("key", ["token_type", "public_key", "key", "access_key_id", "name"])
def test_values_under_ordinary_keys_are_not(key: str) -> None:
    assert scan({key: "tame"}) == []
