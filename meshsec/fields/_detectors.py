"""DLP detectors: each finds (start, end) spans of one kind in normalized text.

Patterns find candidates; checksums and structure decide (Luhn for cards,
ISO 13616 mod-97 and per-country length for IBANs, a JSON header with
``alg`` for JWTs), so a random number is not a finding.
"""

from __future__ import annotations

import base64
import enum
import functools
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

__all__ = ["DETECTORS", "FindingKind", "Span"]

Span = tuple[int, int]


class FindingKind(enum.StrEnum):
    """What a DLP finding is."""

    CARD = "card"
    EMAIL = "email"
    SSN = "ssn"
    IBAN = "iban"
    JWT = "jwt"
    PRIVATE_KEY = "private_key"
    AWS_ACCESS_KEY_ID = "aws_access_key_id"
    SECRET = "secret"  # noqa: S105  # a finding kind name, not a password
    # Not a detector: a subtree nested deeper than the scan goes. It was not
    # looked into, so it is reported rather than silently passed as clean.
    TOO_DEEP = "too_deep"


# -- payment cards -----------------------------------------------------------

# Only digits bound a run: letters glued to a card number do not hide it.
_DIGIT_RUN: Final = re.compile(r"(?<!\d)\d+(?:(?:[ \t]{0,3}[-./][ \t]{0,3}|[ \t]{1,3})\d+)*(?!\d)")
_GROUP: Final = re.compile(r"\d+")


def _card_brand_ok(digits: str) -> bool:
    """Issuer identification ranges and lengths of the major schemes (ISO/IEC 7812).

    Visa 4 (13, 16, 19); Mastercard 51-55 and 2221-2720 (16); Mir 2200-2204;
    Amex 34, 37 (15); Diners 300-305, 36, 38, 39 (14-19); JCB 3528-3589;
    Discover, UnionPay and Maestro 5x/6x (12-19).
    """
    n, first, two, four = len(digits), digits[0], int(digits[:2]), int(digits[:4])
    if first == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if 2200 <= four <= 2204 or 3528 <= four <= 3589:
        return n >= 16
    if two in (34, 37):
        return n == 15
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return n >= 14
    return first in "56"


def _cards(text: str) -> Iterator[Span]:
    if len(text) < 13:
        return
    for run in _DIGIT_RUN.finditer(text):
        if run.end() - run.start() < 13:
            continue  # too short to hold 13 digits
        groups = [(g.start(), g.end()) for g in _GROUP.finditer(text, run.start(), run.end())]
        yield from _card_windows(text, groups)


@functools.cache  # keyed by four digits: at most 10,000 entries
def _card_lengths(prefix: str) -> tuple[int, ...]:
    """Card lengths the issuer range of ``prefix`` allows, longest first."""
    if len(prefix) < 4:
        return ()
    return tuple(n for n in range(19, 12, -1) if _card_brand_ok(prefix + "0" * (n - 4)))


def _card_windows(text: str, groups: list[Span]) -> Iterator[Span]:
    """The longest Luhn-valid card starting at each group, left to right.

    Linear in the run: the candidate ends of a start are looked up (a group
    must end exactly there) and Luhn is answered from prefix sums, so a
    megabyte of "4 4 4 ..." costs one pass, not 19 string builds per group.
    """
    parts = [text[a:b] for a, b in groups]
    digits = "".join(parts)
    offsets = list(itertools.accumulate(map(len, parts), initial=0))
    group_ending = {end: j for j, end in enumerate(offsets[1:])}
    luhn: _LuhnSums | None = None
    i = 0
    while i < len(groups):
        begin, best = offsets[i], None
        for length in _card_lengths(digits[begin : begin + 4]):
            j = group_ending.get(begin + length)
            if j is None:
                continue
            luhn = luhn or _LuhnSums(digits)
            if luhn.valid(begin, begin + length):
                best = j
                break
        if best is None:
            i += 1
            continue
        yield groups[i][0], groups[best][1]
        i = best + 1


_DIGIT_VALUE: Final = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED: Final = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))


class _LuhnSums:
    """Luhn sums of any slice of a digit string in O(1) after one linear pass.

    In ``digits[a:b]`` the doubled digits are those at positions with the
    parity of ``b`` (the last digit is not doubled), so two prefix sums, one
    doubling the even positions and one the odd, answer every slice.
    """

    __slots__ = ("_even", "_odd")

    def __init__(self, digits: str) -> None:
        ascii_digits = digits.encode("ascii")
        raw, doubled = ascii_digits.translate(_DIGIT_VALUE), ascii_digits.translate(_DOUBLED)
        even, odd = bytearray(raw), bytearray(raw)
        even[0::2], odd[1::2] = doubled[0::2], doubled[1::2]
        self._even = list(itertools.accumulate(even, initial=0))
        self._odd = list(itertools.accumulate(odd, initial=0))

    def valid(self, start: int, end: int) -> bool:
        sums = self._even if end % 2 == 0 else self._odd
        return (sums[end] - sums[start]) % 10 == 0


# -- US social security numbers -------------------------------------------------

# Area 000, 666 and 900-999, group 00 and serial 0000 are never issued (SSA).
_SSN: Final = re.compile(
    r"(?<![\d-])(?!000|666|9\d\d)\d{3}[- ./]{1,2}(?!00)\d{2}[- ./]{1,2}(?!0000)\d{4}(?![\d-])"
)
_SSN_LABELLED: Final = re.compile(
    r"(?i:\bssn|social security(?: number| no\.?)?)\W{0,3}"
    r"(?P<n>(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})(?!\d)"
)


def _ssns(text: str) -> Iterator[Span]:
    if len(text) < 9:
        return
    for m in _SSN.finditer(text):
        yield m.span()
    for m in _SSN_LABELLED.finditer(text):
        yield m.span("n")


# -- email addresses -------------------------------------------------------------

_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[\w%+-](?:[\w.%+-]{0,63})@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![^\W\d]|-)"
)


def _emails(text: str) -> Iterator[Span]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield m.span()


# -- IBANs -----------------------------------------------------------------------

_IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip  # ISO 13616 registry lengths, one country per cell
_IBAN_START: Final = re.compile(r"(?<![A-Za-z])([A-Za-z]{2})\d{2}")


_IBAN_BODY: Final = {
    n: re.compile(r"[A-Za-z0-9](?:[ -]?[A-Za-z0-9]){" + str(n - 1) + "}")
    for n in set(_IBAN_LENGTHS.values())
}  # n characters, single spaces or dashes allowed between them
_IBAN_NUMBERS: Final = {ord(c): str(int(c, 36)) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def _iban_ok(compact: str) -> bool:
    # ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1.
    moved = compact[4:] + compact[:4]
    return int(moved.translate(_IBAN_NUMBERS)) % 97 == 1


def _ibans(text: str) -> Iterator[Span]:
    if len(text) < 15:
        return
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        # No boundary is required after the last character: the country length
        # and mod-97 decide, so IBANs glued to each other are all found.
        body = _IBAN_BODY[length].match(text, m.start())
        if body is not None and _iban_ok(body.group().replace(" ", "").replace("-", "").upper()):
            yield body.span()


# -- JWTs, PEM private keys, AWS access key ids ------------------------------------

_JWT: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{4,})\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_-])"
)
_PEM: Final = re.compile(
    r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END ([A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_PEM_PUBLIC: Final = re.compile(
    r"-----BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL|CERTIFICATE REQUEST)-----"
    r".*?(?:-----END [A-Z0-9 ]+-----|\Z)",
    re.DOTALL,
)
_AWS_KEY_ID: Final = re.compile(
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)"
    r"[A-Z0-9]{16}(?![A-Za-z0-9])"
)


def _jwt_header_ok(segment: str) -> bool:
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):  # RecursionError: '{"a":[[[[...' nested past the limit
        return False
    return isinstance(header, dict) and ("alg" in header or "typ" in header)


def _jwts(text: str) -> Iterator[Span]:
    if "eyJ" in text:
        for m in _JWT.finditer(text):
            if _jwt_header_ok(m.group(1)):
                yield m.span()


def _private_keys(text: str) -> Iterator[Span]:
    if "-----BEGIN" in text:
        for m in _PEM.finditer(text):
            yield m.span()


def _aws_key_ids(text: str) -> Iterator[Span]:
    for m in _AWS_KEY_ID.finditer(text):
        yield m.span()


# -- secrets: vendor prefixes, labelled values, high entropy -------------------------

_VENDOR_SECRET: Final = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"gh[pousr]_[A-Za-z0-9]{36,255}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r")(?![A-Za-z0-9_])"
)
# A label is a secret word at a word start or a camelCase hump, so that name
# parts before it count (DB_PASSWORD, AWS_SECRET_ACCESS_KEY, app.secret,
# csrfToken): a plain \b missed every underscored env-file name.
_LABELLED: Final = re.compile(
    r"(?:(?<![A-Za-z0-9])|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?i:(?:password|passwd|pwd|passphrase|secret|secret[_-]?key|client[_-]?secret|api[_-]?key|"
    r"access[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key|token|"
    r"credentials?))"
    r"[\"']?\s*[:=]\s*[\"']?(?P<v>[^\s\"',;<\[{$*]{6,})"
)
# A candidate starts where a base64 run starts, or right after '=' (KEY=value):
# excluding '=' from the left edge, for padding, used to hide every assigned secret.
_CANDIDATE: Final = re.compile(
    r"(?:(?<==)|(?<![A-Za-z0-9+/=_-]))[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])"
)


def _entropy(token: str) -> float:
    counts = Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _random_looking(token: str) -> bool:
    body = token.rstrip("=")
    if body.count("/") + body.count("+") > max(2, len(body) // 10) or "//" in body:
        return False  # a path or URL, not a key
    if not (
        any(c.isdigit() for c in body)
        and any(c.isupper() for c in body)
        and any(c.islower() for c in body)
    ):
        return False
    # Random base62/64 text of length n has nearly n distinct symbols; words,
    # identifiers and paths repeat letters and fall well below this bound.
    return _entropy(body) >= 0.85 * math.log2(min(len(body), 64))


def _secrets(text: str) -> Iterator[Span]:
    for m in _VENDOR_SECRET.finditer(text):
        yield m.span()
    for m in _LABELLED.finditer(text):
        yield m.span("v")
    # Public PEM blocks (certificates, public keys) are random-looking by
    # nature and public by definition; base64 JSON ("eyJ...") without a
    # signature is a JWT fragment, not a credential.
    public = [m.span() for m in _PEM_PUBLIC.finditer(text)] if "-----BEGIN" in text else []
    for m in _CANDIDATE.finditer(text):
        start = m.start()
        if any(a <= start < b for a, b in public) or m.group().startswith("eyJ"):
            continue
        if _random_looking(m.group()):
            yield m.span()


# Most specific first: a span already claimed is not reported again by a later kind.
DETECTORS: Final[tuple[tuple[FindingKind, Callable[[str], Iterator[Span]]], ...]] = (
    (FindingKind.PRIVATE_KEY, _private_keys),
    (FindingKind.JWT, _jwts),
    (FindingKind.AWS_ACCESS_KEY_ID, _aws_key_ids),
    (FindingKind.IBAN, _ibans),
    (FindingKind.CARD, _cards),
    (FindingKind.SSN, _ssns),
    (FindingKind.EMAIL, _emails),
    (FindingKind.SECRET, _secrets),
)
