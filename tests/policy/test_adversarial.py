"""Attacks on the policy layer: path tricks, glob injection, look-alikes,
oversize input, hostile documents."""

from __future__ import annotations

import json
import time

import pytest

from meshsec.errors import ConfigError, PolicyError
from meshsec.policy import (
    Engine,
    PathNormalizationError,
    PolicyConfigError,
    PolicySet,
    Subject,
    normalize_path,
)

from .helpers import engine, policy, rule

ADMIN_DENY = rule("deny-admin", "deny", resources=["http:/admin/*"])
ALLOW_ALL_HTTP = rule("allow-http", resources=["http:*"])


@pytest.fixture
def http_engine():
    return engine(ADMIN_DENY, ALLOW_ALL_HTTP)


@pytest.mark.parametrize(
    "path",
    [
        "/admin",
        "/admin/",
        "/admin/users",
        "/admin/../admin",
        "/admin/./users",
        "//admin",
        "/./admin",
        "/public/../admin",
        "/%61dmin",
        "/%61%64%6d%69%6e/users",
        "/admin?x=/public",
        "/admin#/public",
        "/public/..//admin/x",
    ],
)
def test_path_bypass_of_admin_deny_fails(http_engine, path: str) -> None:
    decision = http_engine.decide("attacker", "GET", f"http:{path}")
    assert not decision.allowed


@pytest.mark.parametrize(
    "path",
    [
        "/%2fadmin",
        "/%2Fadmin",
        "/admin%2fusers",
        "/%5cadmin",
        "/admin%00",
        "/%00",
        "/%252e%252e/admin",
        "/%2561dmin",
        "/..",
        "/a/../../admin",
        "/admin;jsessionid=1",
        "/\\admin",
        "/admin\x00",
        "/\uff41\uff44\uff4d\uff49\uff4e",  # fullwidth "admin"
        "/%EF%BC%A1dmin",
        "/%ff",
        "admin",
    ],
)
def test_hostile_paths_are_refused(http_engine, path: str) -> None:
    with pytest.raises(PathNormalizationError) as info:
        normalize_path(path)
    assert info.value.code == "policy.bad_path"
    decision = http_engine.decide("attacker", "GET", f"http:{path}")
    assert not decision.allowed
    assert "policy.bad_path" in decision.reasons[0]


def test_subtree_pattern_covers_the_directory_itself(http_engine) -> None:
    assert not http_engine.decide("attacker", "GET", "http:/admin").allowed
    assert http_engine.decide("attacker", "GET", "http:/administrator").allowed
    assert http_engine.decide("attacker", "GET", "http:/public").allowed


def test_yaml_alias_bomb_rejected(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    lines.append("rules: []")
    path.write_text("\n".join(lines))
    with pytest.raises(PolicyConfigError, match="alias"):
        PolicySet.from_file(path)


def test_case_variant_is_a_different_path_when_case_sensitive(http_engine) -> None:
    # /ADMIN is not /admin for a case-sensitive backend ...
    assert normalize_path("/ADMIN") == "/ADMIN"
    # ... but a policy for a case-insensitive backend folds case before matching.
    folded = Engine(policy(ADMIN_DENY, ALLOW_ALL_HTTP, case_sensitive_paths=False))
    assert not folded.decide("attacker", "GET", "http:/ADMIN").allowed
    assert not folded.decide("attacker", "GET", "http:/Admin/Users").allowed


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/", "/"),
        ("/a//b", "/a/b"),
        ("/a/./b/", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("/a/%20b", "/a/ b"),
        ("/caf%C3%A9", "/café"),
        ("/x?q=1", "/x"),
    ],
)
def test_normalize_path_canonical_forms(raw: str, canonical: str) -> None:
    assert normalize_path(raw) == canonical


def test_glob_metacharacters_in_request_values_are_literal() -> None:
    eng = engine(rule("a", principals=["alice"], resources=["doc:public-*"]))
    assert not eng.decide("*", "read", "doc:public-1").allowed
    assert not eng.decide("al?ce", "read", "doc:public-1").allowed
    assert not eng.decide("alice", "read", "doc:*").allowed
    assert eng.decide("alice", "read", "doc:public-*").allowed  # a literal id that fits the glob


def test_regex_metacharacters_in_patterns_are_literal() -> None:
    eng = engine(rule("a", resources=["doc:a.b[1]+(x)|y"]))
    assert eng.decide("u", "read", "doc:a.b[1]+(x)|y").allowed
    assert not eng.decide("u", "read", "doc:aXb1").allowed


@pytest.mark.parametrize(
    "principal",
    [
        "spiffe://example.org/ns/prod/sa/\u043erders",  # Cyrillic o
        "spiffe://example.org/ns/prod/sa/orders\u200b",  # zero-width space
        "spiffe://ex\u0430mple.org/ns/prod/sa/orders",  # Cyrillic a in the domain
        "SPIFFE://example.org/ns/prod/sa/orders",
    ],
)
def test_unicode_lookalike_principals_do_not_match(principal: str) -> None:
    eng = engine(rule("a", principals=["spiffe://example.org/ns/prod/sa/orders"]))
    assert not eng.decide(principal, "pay", "x:1").allowed


DEEP: list = ["x"]
for _ in range(20):
    DEEP = [DEEP]


def test_oversize_attributes_are_denied_not_matched() -> None:
    eng = engine(
        rule("a"), rule("d", "deny", when=[{"attr": "context.x", "op": "eq", "value": "y"}])
    )
    huge = "a" * 100_000
    for decision in (
        eng.decide(huge, "read", "doc:1"),
        eng.decide("u", huge, "doc:1"),
        eng.decide("u", "read", "doc:" + huge),
        eng.decide("u", "read", "doc:1", {"x": huge}),
        eng.decide(Subject(principal="u", claims={"c": huge}), "read", "doc:1"),
        eng.decide("u", "read", "doc:1", {"deep": DEEP}),
        eng.decide("u", "read", "doc:1", {f"k{i}": i for i in range(5000)}),
    ):
        assert not decision.allowed
        assert "policy.oversize" in decision.reasons[0]


def test_many_stars_cannot_cause_catastrophic_backtracking() -> None:
    with pytest.raises(PolicyConfigError):
        PolicySet.from_dict(
            {"version": 1, "rules": [rule("a", resources=["*a*a*a*a*a*a*a*a*a*b"])]}
        )
    eng = engine(rule("a", resources=["x:" + "*a" * 7 + "*b"]))
    started = time.perf_counter()
    assert not eng.decide("u", "r", "x:" + "a" * 4000).allowed
    assert eng.decide("u", "r", "x:" + "a" * 4000 + "b").allowed
    assert time.perf_counter() - started < 1.0


def test_bad_request_types_deny() -> None:
    eng = engine(rule("a"))
    assert not eng.decide("u", 42, "doc:1").allowed  # type: ignore[arg-type]
    assert not eng.decide("u", "read", "no-colon").allowed
    assert not eng.decide("u", "read", "doc:1", ["not", "a", "mapping"]).allowed  # type: ignore[arg-type]


# -- hostile documents ------------------------------------------------------------------


def _error(doc) -> PolicyConfigError:
    with pytest.raises(PolicyConfigError) as info:
        PolicySet.from_dict(doc) if not isinstance(doc, str) else PolicySet.from_json(doc)
    assert isinstance(info.value, PolicyError)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
    assert info.value.code == "policy.invalid"
    return info.value


def test_duplicate_rule_ids_rejected() -> None:
    err = _error({"version": 1, "rules": [rule("same"), rule("same", "deny")]})
    assert "'same'" in str(err)
    assert "duplicate" in str(err)


def test_unknown_operator_rejected_naming_rule_and_field() -> None:
    err = _error(
        {
            "version": 1,
            "rules": [rule("r1", when=[{"attr": "context.x", "op": "regex", "value": "."}])],
        }
    )
    assert "'r1'" in str(err)
    assert "when[0].op" in str(err)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"version": 2, "rules": []}, "policy.version"),
        ({"version": True, "rules": []}, "policy.version"),
        ({"version": 1}, "policy.rules"),
        ({"version": 1, "rules": [], "extra": 1}, "unknown field"),
        ({"version": 1, "rules": [rule("r", effect="permit")]}, "'r'.effect"),
        ({"version": 1, "rules": [rule("r", principals=[])]}, "'r'.principals"),
        ({"version": 1, "rules": [rule("r", actions="read")]}, "'r'.actions"),
        ({"version": 1, "rules": [rule("r", colour="red")]}, "unknown field 'colour'"),
        ({"version": 1, "rules": [{"effect": "allow"}]}, "rules[0].id"),
        (
            {
                "version": 1,
                "rules": [rule("r", when=[{"attr": "subject.password", "op": "exists"}])],
            },
            "unknown attribute",
        ),
        (
            {"version": 1, "rules": [rule("r", when=[{"attr": "context.a", "op": "eq"}])]},
            "needs 'value' or 'ref'",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule("r", when=[{"attr": "context.a", "op": "eq", "value": 1, "ref": "action"}])
                ],
            },
            "not both",
        ),
        (
            {
                "version": 1,
                "rules": [rule("r", when=[{"attr": "context.a", "op": "in", "value": [1, "1"]}])],
            },
            "one type",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule(
                        "r", when=[{"attr": "context.a", "op": "in_cidr", "value": ["10.0.0.1/8"]}]
                    )
                ],
            },
            "bad CIDR",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule(
                        "r",
                        when=[
                            {
                                "attr": "context.time",
                                "op": "between",
                                "value": [480, 1080],
                                "tz": "UTC",
                            }
                        ],
                    )
                ],
            },
            "quoted",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule(
                        "r",
                        when=[
                            {
                                "attr": "context.time",
                                "op": "between",
                                "value": ["08:00", "18:00"],
                                "tz": "Mars/Olympus",
                            }
                        ],
                    )
                ],
            },
            "unknown time zone",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule(
                        "r",
                        when=[
                            {"attr": "context.time", "op": "between", "value": ["08:00", "18:00"]}
                        ],
                    )
                ],
            },
            "tz",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule(
                        "r",
                        when=[{"attr": "context.a", "op": "glob", "value": "x", "ref": "action"}],
                    )
                ],
            },
            "not both",
        ),
        (
            {
                "version": 1,
                "rules": [
                    rule("r", when=[{"attr": "context.a", "op": "eq", "value": 1, "tz": "UTC"}])
                ],
            },
            "tz",
        ),
        ({"version": 1, "rules": [rule("r", mode="audit")]}, "'r'.mode"),
        ({"version": 1, "rules": [rule("r", obligations=["x"])]}, "'r'.obligations"),
        ([1, 2], "mapping"),
    ],
)
def test_invalid_documents_name_the_rule_and_field(doc, fragment: str) -> None:
    assert fragment in str(_error(doc))


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1, "version": 1, "rules": []}',
        (
            '{"version": 1, "rules": [{"id": "a", "effect": "allow", "effect": "deny", '
            '"principals": ["*"], "actions": ["*"], "resources": ["*"]}]}'
        ),
        (
            '{"version": 1, "rules": [{"id": "a", "effect": "allow", "principals": ["*"], '
            '"actions": ["*"], "resources": ["*"], '
            '"when": [{"attr": "context.a", "op": "lt", "value": NaN}]}]}'
        ),
        "{not json",
        "[" * 100_000,
    ],
)
def test_hostile_json_rejected(text: str) -> None:
    _error(text)


def test_duplicate_yaml_keys_rejected(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nrules: []\nrules:\n  - id: a\n")
    with pytest.raises(PolicyConfigError, match="repeats the key"):
        PolicySet.from_file(path)


def test_yaml_python_tags_rejected(tmp_path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nrules: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(PolicyConfigError):
        PolicySet.from_file(path)


def test_missing_yaml_extra_names_the_extra(tmp_path, monkeypatch) -> None:
    import sys

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nrules: []\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(PolicyConfigError, match=r"meshsec\[yaml\]"):
        PolicySet.from_file(path)


def test_json_document_round_trips_through_file(tmp_path) -> None:
    doc = {"version": 1, "rules": [rule("a", when=[{"attr": "context.a", "op": "exists"}])]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    loaded = PolicySet.from_file(path)
    assert loaded == PolicySet.from_dict(doc)
    assert PolicySet.from_dict(loaded.to_dict()).version_id == loaded.version_id


class _HostileMapping(dict):
    def get(self, *args, **kwargs):
        raise RuntimeError("boom")


def test_hostile_context_object_fails_closed() -> None:
    eng = engine(rule("a", when=[{"attr": "context.x", "op": "exists", "value": False}]))
    decision = eng.decide("u", "r", "d:1", _HostileMapping(x=1))
    assert not decision.allowed
    assert "policy.bad_request" in decision.reasons[0]


def test_version_id_ignores_spelled_out_defaults() -> None:
    terse = {"version": 1, "rules": [rule("a", when=[{"attr": "context.x", "op": "exists"}])]}
    spelled = {
        "version": 1,
        "mode": "enforce",
        "case_sensitive_paths": True,
        "rules": [
            rule(
                "a",
                mode="enforce",
                obligations={},
                when=[{"attr": "context.x", "op": "exists", "value": True}],
            )
        ],
    }
    assert PolicySet.from_dict(terse).version_id == PolicySet.from_dict(spelled).version_id
    changed = {
        "version": 1,
        "rules": [rule("a", when=[{"attr": "context.x", "op": "exists", "value": False}])],
    }
    assert PolicySet.from_dict(changed).version_id != PolicySet.from_dict(terse).version_id
