"""Red team: every spelling of /admin must hit a deny written for /admin/*."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshsec.policy import Engine, PathNormalizationError, normalize_path

from .helpers import policy, rule

ALLOW_HTTP = rule("allow-http", resources=["http:*"])


def _engine(*deny_patterns: str, case_sensitive: bool = True) -> Engine:
    deny = rule("deny-admin", "deny", resources=list(deny_patterns))
    return Engine(policy(deny, ALLOW_HTTP, case_sensitive_paths=case_sensitive))


@pytest.mark.parametrize(
    "path",
    [
        "/admin%20",
        "/admin%20/users",
        "/admin%09",
        "/admin%0a",
        "/admin%0d%0a/x",
        "/admin%e2%80%a8",  # U+2028 line separator
        "/admin%c2%a0",  # no-break space (also NFKC)
        "/%c0%afadmin",  # overlong "/"
        "/%e0%80%afadmin",  # overlong "/", three bytes
        "/%c0%ae%c0%ae/admin",  # overlong ".."
        "/%2e%2e/admin",
        "/..%2fadmin",
        "/..%5cadmin",
        "/%252fadmin",
        "/admin/%2e%2e%2f",
        "/admin.",  # Windows and IIS drop trailing dots
        "/admin%2e/users",
        "/admin.../users",
        "/x/.../admin",
    ],
)
def test_trailing_space_and_encoding_tricks_are_refused(path: str) -> None:
    with pytest.raises(PathNormalizationError) as info:
        normalize_path(path)
    assert info.value.code == "policy.bad_path"
    assert path not in str(info.value)  # the hostile text is not echoed
    assert not _engine("http:/admin/*").decide("mallory", "GET", f"http:{path}").allowed


def test_mixed_case_deny_pattern_folds_with_case_insensitive_paths() -> None:
    folded = _engine("http:/Admin/*", case_sensitive=False)
    for path in ("/admin", "/ADMIN/x", "/Admin/../ADMIN/users", "/aDmIn/"):
        decision = folded.decide("mallory", "GET", f"http:{path}")
        assert not decision.allowed, path
        assert decision.rule_id == "deny-admin"
    assert folded.decide("mallory", "GET", "http:/public").allowed


def test_explain_agrees_with_decide_for_folded_patterns() -> None:
    folded = _engine("http:/Admin/*", case_sensitive=False)
    explanation = folded.explain("mallory", "GET", "http:/ADMIN/x")
    deny_trace = next(t for t in explanation.rules if t.rule_id == "deny-admin")
    assert deny_trace.matched
    assert not explanation.decision.allowed


@pytest.mark.parametrize(
    "path",
    ["/admin", "/admin/", "/admin/../admin", "/x/../admin/y", "//admin//y", "/./admin/./y"],
)
def test_dot_segment_and_slash_spellings_are_denied(path: str) -> None:
    decision = _engine("http:/admin/*").decide("mallory", "GET", f"http:{path}")
    assert not decision.allowed
    assert decision.rule_id == "deny-admin"


def test_climbing_above_the_root_is_refused() -> None:
    for path in ("/../admin", "/a/../../admin", "/%2e%2e/admin", "/./../admin"):
        with pytest.raises(PathNormalizationError, match=r"above the root|encoded"):
            normalize_path(path)


_segment = st.text(alphabet="aA%2f5cCe0./; \\\t", max_size=6)


@given(st.lists(_segment, max_size=6))
def test_normalized_paths_hold_no_ambiguous_piece(segments: list[str]) -> None:
    raw = "/" + "/".join(segments)
    try:
        clean = normalize_path(raw)
    except PathNormalizationError:
        return
    assert clean.startswith("/")
    assert "//" not in clean
    assert "\\" not in clean
    assert ";" not in clean
    assert re.search("%[0-9a-fA-F]{2}", clean) is None  # nothing left to decode a second time
    parts = clean.split("/")[1:]
    assert "." not in parts
    assert ".." not in parts
    assert all(p == p.rstrip() for p in parts)
    assert all(not p.endswith(".") for p in parts)
    assert normalize_path(clean) == clean
