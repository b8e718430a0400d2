"""Red team: DLP evasion, values leaking through paths and keys, logging, and regex blowups."""

from __future__ import annotations

import base64
import io
import json
import logging
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.fields import DlpLogFilter, Finding, FindingKind, redact, redact_text, scan

CARD = "4111111111111111"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def _digits_in(alphabet_zero: int) -> str:
    return "".join(chr(alphabet_zero + int(d)) for d in CARD)


def _spaced(sep: str) -> str:
    return sep.join(CARD[i : i + 4] for i in range(0, 16, 4))


@pytest.mark.parametrize(
    "disguise",
    [
        _digits_in(0xFF10),  # fullwidth
        _digits_in(0x0660),  # Arabic-Indic
        _digits_in(0x06F0),  # extended Arabic-Indic
        _digits_in(0x0966),  # Devanagari
        _digits_in(0x1D7CE),  # mathematical bold
        _digits_in(0x1D7EC),  # mathematical sans-serif bold
        "".join(d + "\ufe0f\u20e3" for d in CARD),  # keycap emoji digits
        "".join(d + "\u0301" for d in CARD),  # combining marks after every digit
        "\u200b".join(CARD),  # zero-width space between digits
        "\u200d".join(CARD),  # zero-width joiner
        "\u2060".join(CARD),  # word joiner
        "\ufeff".join(CARD),  # BOM
        "\u00ad".join(CARD),  # soft hyphen
        "\u200e".join(CARD),  # left-to-right mark
        "\u202e" + CARD + "\u202c",  # right-to-left override
        "\u2066" + CARD + "\u2069",  # isolates
        _spaced("\u00a0"),  # non-breaking space
        _spaced("\u202f"),  # narrow no-break space
        _spaced("\u2009"),  # thin space
        _spaced("\u3000"),  # ideographic space
        _spaced("\t"),
        _spaced("   "),
        _spaced("."),
        _spaced("/"),
        _spaced(" / "),
        _spaced("\u2010"),  # hyphen
        _spaced("\u2013"),  # en dash
        _spaced("\u2212"),  # minus sign
        _spaced("\uff0d"),  # fullwidth hyphen-minus
        _spaced("\uff0e"),  # fullwidth full stop
        _spaced("\u00b7"),  # middle dot
        _spaced("\u2022"),  # bullet
        _spaced("\u2215"),  # division slash
        _spaced("\uff0f"),  # fullwidth solidus
        "ref" + CARD + "end",  # glued to letters
        "card:" + CARD,
        "\n".join(["x", CARD, "y"]),
    ],
)
def test_card_numbers_cannot_hide_behind_unicode_or_formatting(disguise: str) -> None:
    text = f"pay {disguise} now"
    assert [f.kind for f in scan(text)] == [FindingKind.CARD]
    cleaned = redact_text(text)
    assert "[REDACTED:card]" in cleaned
    assert scan(cleaned) == []
    for digit_run in ("1111", "4111"):
        assert digit_run not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "1234567890123456",
        "41111111111111111111",  # 20 digits: longer than any card
        "0000000000000000",
        "order 12345 shipped 2024-01-02",
    ],
)
def test_luhn_invalid_and_overlong_numbers_are_not_cards(text: str) -> None:
    assert FindingKind.CARD not in [f.kind for f in scan(text)]


def test_iban_needs_mod_97_and_survives_case_and_spacing() -> None:
    good = "GB82WEST12345698765432"
    assert [f.kind for f in scan(good)] == [FindingKind.IBAN]
    assert [f.kind for f in scan(good.lower())] == [FindingKind.IBAN]
    assert [f.kind for f in scan("GB82 WEST 1234 5698 7654 32")] == [FindingKind.IBAN]
    assert [f.kind for f in scan("GB82\u00a0WEST\u00a01234\u00a05698\u00a07654\u00a032")] == [
        FindingKind.IBAN
    ]
    for broken in ("GB82WEST12345698765433", "GB83WEST12345698765432", "GB82WEST1234569876543"):
        assert FindingKind.IBAN not in [f.kind for f in scan(broken)]


def test_emails_in_fullwidth_or_decomposed_form_are_found() -> None:
    for text in (
        "\uff41\uff44\uff41\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
        "jose\u0301@example.com",
        "ada\u200b@example.com",
    ):
        assert [f.kind for f in scan(text)] == [FindingKind.EMAIL]
        assert scan(redact_text(text)) == []


def test_jwt_and_pem_are_found_in_nested_structures_and_in_keys() -> None:
    doc = {
        "a": [{"b": ("x", {"c": JWT})}],
        "d": {PEM: "value under a key"},
        JWT: {"e": 1},
        "f": {frozenset({"x"}): CARD},
        "g": {("ada@example.com", 1): "under a tuple key"},
    }
    findings = scan(doc)
    kinds = [f.kind for f in findings]
    assert kinds.count(FindingKind.JWT) == 2
    assert kinds.count(FindingKind.PRIVATE_KEY) == 1
    assert kinds.count(FindingKind.CARD) == 1
    rendered = json.dumps([f.path for f in findings])
    for secret in (JWT[:20], "MIIEvQ", "BEGIN PRIVATE", "ada@example.com"):
        assert secret not in rendered
    out = redact(doc)
    text = repr(out)
    for secret in (JWT[:20], "MIIEvQ", "ada@example.com"):
        assert secret not in text


def test_finding_paths_never_carry_a_sensitive_key() -> None:
    doc = {"ada@example.com": CARD, "users": {"bob@example.com": {"ssn": "123-45-6789"}}}
    findings = scan(doc)
    assert {f.kind for f in findings} == {FindingKind.EMAIL, FindingKind.CARD, FindingKind.SSN}
    for finding in findings:
        assert "@example.com" not in finding.path
        assert "4111" not in finding.path
    assert Finding("$['[REDACTED:email]']", FindingKind.CARD) in findings


def test_redacting_keys_keeps_entries_that_redact_alike() -> None:
    out = redact({"ada@example.com": 1, "bob@example.com": 2, "x": 3})
    assert sorted(out.values()) == [1, 2, 3]
    assert "ada@example.com" not in json.dumps(out)
    assert scan(out) == []


def test_int_keys_and_values_are_scanned() -> None:
    assert [f.kind for f in scan({4111111111111111: "x"})] == [FindingKind.CARD]
    assert [f.kind for f in scan([4111111111111111])] == [FindingKind.CARD]
    assert redact({"n": 4111111111111111}) == {"n": "[REDACTED:card]"}


def test_huge_ints_and_deeply_nested_jwt_headers_do_not_crash_the_scanner() -> None:
    assert scan(10**5000) == []
    assert redact([10**5000]) == [10**5000]
    header = base64.urlsafe_b64encode(b'{"a":' + b"[" * 50_000).rstrip(b"=").decode()
    assert scan(header + ".abcd.efgh") == [] or all(
        f.kind != FindingKind.JWT for f in scan(header + ".abcd.efgh")
    )


def test_bytes_are_scanned_as_utf8() -> None:
    assert [f.kind for f in scan({"raw": CARD.encode()})] == [FindingKind.CARD]
    assert [f.kind for f in scan(bytearray(b"mail ada@example.com"))] == [FindingKind.EMAIL]


def test_redact_never_modifies_its_input() -> None:
    doc = {"a": [CARD, {"b": "ada@example.com"}], "ada@example.com": ("x",)}
    before = json.dumps(doc, default=list)
    redact(doc)
    assert json.dumps(doc, default=list) == before


@given(
    prefix=st.text(alphabet="abc xyz.,:-", max_size=10),
    suffix=st.text(alphabet="abc xyz.,:-", max_size=10),
)
def test_redacted_text_never_keeps_a_card(prefix: str, suffix: str) -> None:
    text = f"{prefix} {CARD} {suffix}"
    cleaned = redact_text(text)
    assert CARD not in cleaned
    assert all(f.kind != FindingKind.CARD for f in scan(cleaned))


# -- logging ---------------------------------------------------------------------------


def _logger() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(DlpLogFilter())
    logger = logging.getLogger(f"rt.dlp.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, stream, handler


def _fail_with_card() -> None:
    raise ValueError(f"bad card {CARD}")


def test_log_filter_redacts_args_dict_args_and_tracebacks() -> None:
    logger, stream, handler = _logger()
    try:
        logger.info("paid with %s by %s", CARD, "ada@example.com")
        logger.info("user %(email)s", {"email": "ada@example.com"})
        logger.info({"nested": [CARD]})
        try:
            _fail_with_card()
        except ValueError:
            logger.exception("failed for %s", "bob@example.com")
        logger.info("stack", stack_info=True, extra={"x": 1})
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert CARD not in out
    assert "ada@example.com" not in out
    assert "bob@example.com" not in out
    assert out.count("[REDACTED:card]") >= 3


def test_log_filter_redacts_args_of_a_broken_format_string(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # logging reports a failed format on stderr with the raw msg and args.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(DlpLogFilter())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "card %d and %s", (CARD,), None)
    handler.handle(record)  # wrong type and count: formatting fails, handleError reports
    err = capsys.readouterr().err
    assert "Arguments" in err
    assert CARD not in err
    assert CARD not in stream.getvalue()


def test_log_filter_never_drops_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (CARD,), None)
    assert DlpLogFilter().filter(record) is True
    assert record.getMessage() == "[REDACTED:card]"


# -- catastrophic backtracking -----------------------------------------------------------
# A guard against super-linear regexes, not a benchmark: linear scanning of
# these 200 KB inputs takes well under a second; quadratic would take minutes.

_SIZE = 200_000
_ADVERSARIAL = {
    "digits": "1" * _SIZE,
    "digit-space": "4 " * (_SIZE // 2),
    "digit-dash": "4-" * (_SIZE // 2),
    "digit-dot-space": "4 . " * (_SIZE // 4),
    "spaces": "4" + " " * _SIZE + "x",
    "nbsp-digits": "4\u00a0" * (_SIZE // 2),
    "fullwidth": "\uff14" * _SIZE,
    "zero-width": "4\u200b" * (_SIZE // 2),
    "ats": "a@" * (_SIZE // 2),
    "dotted-domain": "x@" + "a." * (_SIZE // 2),
    "long-local": "a" * _SIZE + "@",
    "base64": "aB3" * (_SIZE // 3),
    "padding": "a" * _SIZE + "===",
    "jwt-head": "eyJ" + "a" * _SIZE,
    "jwt-dots": "eyJa." * (_SIZE // 5),
    "pem-open": "-----BEGIN PRIVATE KEY-----" + "A" * _SIZE,
    "pem-words": "-----BEGIN A " * (_SIZE // 13),
    "password-space": "password" + " " * _SIZE,
    "password-eq": "password=" * (_SIZE // 9),
    "iban-heads": "DE89" * (_SIZE // 4),
    "ssn-parts": "123-45-" * (_SIZE // 7),
    "cards": "4111 1111 1111 1111 " * (_SIZE // 20),
    "ssn-labels": "ssn " * (_SIZE // 4),
    "akia": "AKIA" * (_SIZE // 4),
    "slack": "xoxb-" * (_SIZE // 5),
}


@pytest.mark.parametrize("name", sorted(_ADVERSARIAL))
def test_catastrophic_backtracking_inputs_scan_in_linear_time(name: str) -> None:
    text = _ADVERSARIAL[name]
    start = time.perf_counter()
    scan(text)
    assert time.perf_counter() - start < 10.0


_KEYS = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.none(),
    st.tuples(st.text(max_size=5)),
    st.binary(max_size=8),
    st.sampled_from(["ada@example.com", 4111111111111111, ("ada@example.com",), JWT]),
)
_LEAVES = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.binary(max_size=20),
    st.none(),
    st.sampled_from([CARD, "ada@example.com", "GB82WEST12345698765432", JWT, PEM]),
)
_TREES = st.recursive(
    _LEAVES,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(_KEYS, kids, max_size=3)
        | st.tuples(kids, kids)
    ),
    max_leaves=12,
)


@given(doc=_TREES)
def test_redact_leaves_nothing_scan_would_find_and_paths_hold_no_values(doc: object) -> None:
    assert scan(redact(doc)) == []
    for finding in scan(doc):
        for value in ("ada@example.com", CARD, JWT[:20], "GB82WEST"):
            assert value not in finding.path
