"""A policy set compiled for fast evaluation: indexes, resource matchers, checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from meshsec.policy._conditions import MISSING, OUTCOME_TEXT, TRUE, Check, EvalRequest
from meshsec.policy._glob import compile_glob, is_literal
from meshsec.policy._index import PatternIndex
from meshsec.policy._model import Condition, PolicySet, Rule


class CompiledRule:
    __slots__ = (
        "checks",
        "dry",
        "effect",
        "id",
        "match_action",
        "match_principal",
        "match_resource",
        "obligations",
        "resource_patterns",
        "rule",
    )

    def __init__(self, rule: Rule, *, set_dry_run: bool, case_sensitive_paths: bool = True) -> None:
        self.rule = rule
        self.id = rule.id
        self.effect = rule.effect
        self.dry = set_dry_run or rule.mode == "dry_run"
        self.obligations: Mapping[str, Any] = rule.obligations
        self.checks: tuple[tuple[Condition, Check], ...] = tuple((c, c.check) for c in rule.when)
        self.resource_patterns = resource_patterns(
            rule.resources, case_sensitive_paths=case_sensitive_paths
        )
        self.match_resource = pattern_matcher(self.resource_patterns)
        self.match_action = pattern_matcher(rule.actions)
        self.match_principal = pattern_matcher(rule.principals)

    def conditions_hold(self, req: EvalRequest, notes: list[str]) -> bool:
        for condition, check in self.checks:
            outcome = check(req)
            if outcome != TRUE:
                if outcome >= MISSING:
                    notes.append(f"rule {self.id}: {condition.attr} {OUTCOME_TEXT[outcome]}")
                return False
        return True


def resource_patterns(
    patterns: tuple[str, ...], *, case_sensitive_paths: bool = True
) -> tuple[str, ...]:
    """An HTTP subtree pattern ``http:/admin/*`` also covers ``http:/admin`` itself.

    Otherwise ``/admin/../admin`` (normalized to ``/admin``) would slip past
    a deny written for ``/admin/*``. With case-insensitive paths the request
    path is lower-cased, so ``http:`` patterns are too: a deny written for
    ``http:/Admin/*`` must still catch ``/ADMIN/x``.
    """
    if not case_sensitive_paths:
        patterns = tuple(dict.fromkeys(p.lower() if p.startswith("http:") else p for p in patterns))
    extra = tuple(p[:-2] for p in patterns if p.startswith("http:/") and p.endswith("/*"))
    return patterns + tuple(p for p in extra if p not in patterns and p != "http:")


def _always(_value: str) -> bool:
    return True


def pattern_matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """One closure for a rule's pattern list, specialised for the common shapes."""
    if any(p.strip("*") == "" for p in patterns):
        return _always
    literals = frozenset(p for p in patterns if is_literal(p))
    globs = tuple(compile_glob(p) for p in patterns if not is_literal(p))
    if not globs:
        return literals.__contains__
    if not literals and len(globs) == 1:
        return globs[0]
    return lambda key: key in literals or any(match(key) for match in globs)


class CompiledPolicy:
    """Immutable once built; the engine swaps whole instances on policy change."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        self.version = policy.version_id
        self.set_dry_run = policy.mode == "dry_run"
        self.case_sensitive_paths = policy.case_sensitive_paths
        self.rules = tuple(
            CompiledRule(
                r, set_dry_run=self.set_dry_run, case_sensitive_paths=self.case_sensitive_paths
            )
            for r in policy.rules
        )
        self.has_dry_rules = any(r.dry for r in self.rules)
        self.actions = PatternIndex((i, r.actions) for i, r in enumerate(policy.rules))
        self.principals = PatternIndex((i, r.principals) for i, r in enumerate(policy.rules))
        self._pairs: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}

    def candidates(self, action: str, principal: str) -> tuple[CompiledRule, ...]:
        """Rules whose action and principal patterns both match, in id order."""
        pair = (action, principal)
        found = self._pairs.get(pair)
        if found is None:
            found = self._candidates(action, principal)
            if len(self._pairs) >= 8192:
                self._pairs.clear()  # bounded memo, not a decision cache
            self._pairs[pair] = found
        return found

    def _candidates(self, action: str, principal: str) -> tuple[CompiledRule, ...]:
        # Start from the smaller side and test the other side's patterns per
        # rule, so the cost is bounded by the fewer rules that could match.
        by_action = self.actions.lookup(action)
        by_principal = self.principals.lookup(principal)
        action_size = len(by_action) + len(self.actions.universal)
        if action_size <= len(by_principal) + len(self.principals.universal):
            pool = by_action | self.actions.universal
            keep = [n for n in pool if self.rules[n].match_principal(principal)]
        else:
            pool = by_principal | self.principals.universal
            keep = [n for n in pool if self.rules[n].match_action(action)]
        return tuple(self.rules[n] for n in sorted(keep))
