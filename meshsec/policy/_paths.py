"""Canonical form of HTTP request paths, applied before any path is matched.

Proxies and applications that disagree about what a path means let a request
slip past a rule (Envoy CVE-2019-9901 on ``..`` segments, Istio's
ISTIO-SECURITY-2021-002 on case and encoded slashes, CVE-2021-28682-era
escaped-slash confusions). meshsec decodes once, refuses anything ambiguous,
and resolves the rest to a single form.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from meshsec.policy._errors import PathNormalizationError

# An escape that survives one decode means the path was encoded twice; a
# backend that decodes again would see a different path than the policy did.
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_BAD_ESCAPES = ("%2f", "%5c", "%00")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"\s(?:/|$)")
# "admin." or "...": a segment ending in dots that is not "." or "..".
_TRAILING_DOT = re.compile(r"(?:[^/.]\.+|(?:^|/)\.{3,})(?:/|$)")
MAX_PATH_LENGTH = 8192


def normalize_path(path: str, *, case_sensitive: bool = True) -> str:
    """Return the canonical form of an HTTP path, or raise PathNormalizationError.

    Steps: drop the query and fragment; refuse encoded ``/``, ``\\`` and NUL;
    percent-decode exactly once (RFC 3986 section 2.1) as UTF-8; refuse
    control characters, a segment ending in white space or dots,
    backslashes, ``;`` path parameters, escapes that survive the decode and
    text that Unicode NFKC would change; collapse ``//``; resolve ``.`` and
    ``..`` (RFC 3986 section 5.2.4) and refuse to climb above the root. A
    trailing slash is kept. With ``case_sensitive=False`` the result is
    lower-cased.
    """
    if not isinstance(path, str):
        raise PathNormalizationError("an HTTP path must be a string")
    if len(path) > MAX_PATH_LENGTH:
        raise PathNormalizationError(f"HTTP path longer than {MAX_PATH_LENGTH} characters")
    raw = re.split(r"[?#]", path, maxsplit=1)[0]
    if not raw.startswith("/"):
        raise PathNormalizationError("HTTP path must start with '/'")
    if any(bad in raw.lower() for bad in _BAD_ESCAPES):
        raise PathNormalizationError("HTTP path contains an encoded '/', '\\' or NUL")
    try:
        decoded = unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise PathNormalizationError("HTTP path is not valid UTF-8 after decoding") from exc
    _refuse_ambiguous(decoded)
    resolved = _resolve(decoded)
    return resolved if case_sensitive else resolved.lower()


def _refuse_ambiguous(decoded: str) -> None:
    if _CONTROL.search(decoded):
        raise PathNormalizationError("HTTP path contains a control character or NUL")
    if "\\" in decoded:
        raise PathNormalizationError("HTTP path contains a backslash")
    if ";" in decoded:
        # Servlet containers strip ";param" from segments; the policy would not.
        raise PathNormalizationError("HTTP path contains ';' path parameters")
    if _TRAILING_SPACE.search(decoded):
        # Windows and several servers trim a segment's trailing spaces, so
        # "/admin%20" would reach the handler for "/admin".
        raise PathNormalizationError("HTTP path has a segment ending in white space")
    if _TRAILING_DOT.search(decoded):
        # Windows (and IIS) drop trailing dots too: "/admin." opens "/admin".
        raise PathNormalizationError("HTTP path has a segment ending in '.'")
    if _ESCAPE.search(decoded):
        raise PathNormalizationError("HTTP path is percent-encoded twice")
    if unicodedata.normalize("NFKC", decoded) != decoded:
        # A backend that applies NFKC would read fullwidth or ligature
        # look-alikes as the ASCII path the policy protects.
        raise PathNormalizationError("HTTP path is not in Unicode NFKC form")


def _resolve(decoded: str) -> str:
    segments = decoded.split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not out:
                raise PathNormalizationError("HTTP path climbs above the root")
            out.pop()
            continue
        out.append(segment)
    trailing = segments[-1] in ("", ".", "..") and bool(out)
    return "/" + "/".join(out) + ("/" if trailing else "")
