"""Red team: the rule index must find exactly the rules a full scan would find."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from meshsec.policy import Engine, PolicySet

_pattern = st.text(alphabet="ab:*?", min_size=1, max_size=5).filter(lambda p: p.count("*") <= 8)
_value = st.text(alphabet="ab:*?[", max_size=5)


def _regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL)


def _matches(patterns: list[str], value: str) -> bool:
    return any(_regex(p).fullmatch(value) for p in patterns)


@st.composite
def _rules(draw: Any) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 12))
    return [
        {
            "id": f"r{i:02d}",
            "effect": draw(st.sampled_from(["allow", "deny"])),
            "principals": draw(st.lists(_pattern, min_size=1, max_size=3)),
            "actions": draw(st.lists(_pattern, min_size=1, max_size=3)),
            "resources": ["*"],
        }
        for i in range(count)
    ]


@given(_rules(), st.lists(st.tuples(_value, _value), min_size=1, max_size=8))
def test_indexed_engine_agrees_with_a_full_scan(rules, requests) -> None:
    engine = Engine(PolicySet.from_dict({"version": 1, "rules": rules}), cache_size=0)
    for principal, action in requests:
        matched = [
            r
            for r in rules
            if _matches(r["principals"], principal) and _matches(r["actions"], action)
        ]
        denies = sorted(r["id"] for r in matched if r["effect"] == "deny")
        allows = sorted(r["id"] for r in matched if r["effect"] == "allow")
        want = (False, denies[0]) if denies else (True, allows[0]) if allows else (False, None)
        decision = engine.decide({"principal": principal}, action, "t:1")
        assert (decision.allowed, decision.rule_id) == want, (principal, action)
