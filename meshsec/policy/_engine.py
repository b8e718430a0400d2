"""The embedded policy decision point."""

from __future__ import annotations

import itertools
import random
import re
import secrets
from collections.abc import Hashable, Mapping
from types import MappingProxyType
from typing import Any

from meshsec.clock import Clock, system_clock
from meshsec.policy import _audit
from meshsec.policy._cache import DecisionCache, Uncacheable, freeze
from meshsec.policy._compiled import CompiledPolicy, CompiledRule
from meshsec.policy._conditions import OUTCOME_TEXT, TRUE, EvalRequest
from meshsec.policy._decision import _EMPTY, Decision, Explanation, RuleTrace
from meshsec.policy._errors import PathNormalizationError, PolicyConfigError
from meshsec.policy._glob import compile_glob
from meshsec.policy._model import PolicySet
from meshsec.policy._paths import normalize_path
from meshsec.policy._request import (
    Resource,
    ResourceLike,
    Subject,
    SubjectLike,
    to_resource,
    to_subject,
)
from meshsec.policy._store import PolicyStore

MAX_ATTRIBUTE_LENGTH = 4096
_MAX_CONTEXT_ITEMS = 1024


class _State:
    """One policy and the cache that belongs to it; swapped as a whole."""

    __slots__ = ("cache", "compiled")

    def __init__(self, compiled: CompiledPolicy, cache: DecisionCache | None) -> None:
        self.compiled, self.cache = compiled, cache


class Engine:
    """The embedded decision point over a :class:`PolicySet`.

    Semantics: default deny; any matching ``deny`` rule wins over every
    ``allow``; otherwise a matching ``allow`` allows. The deciding rule is the
    matching rule with the smallest id, so no result depends on rule order.

    ``cache_size`` bounds the LRU decision cache (0 disables it).
    ``clock`` stands in for ``context.time`` when a request gives none.
    ``allow_sample_rate`` is the share of allow decisions that emit an
    audit event (denials always do).
    """

    def __init__(
        self,
        policy_set: PolicySet | PolicyStore,
        *,
        cache_size: int = 10_000,
        clock: Clock = system_clock,
        allow_sample_rate: float = 1.0,
    ) -> None:
        if not isinstance(cache_size, int) or cache_size < 0:
            raise PolicyConfigError("Engine cache_size must be a non-negative integer")
        if not 0.0 <= allow_sample_rate <= 1.0:
            raise PolicyConfigError("Engine allow_sample_rate must be between 0 and 1")
        self._cache_size = cache_size
        self._clock = clock
        self._sample = allow_sample_rate
        self._random = random.Random()  # noqa: S311  sampling, not security
        self._id_prefix = secrets.token_hex(6) + "-"
        self._ids = itertools.count(1)
        if isinstance(policy_set, PolicyStore):
            policy_set.subscribe(self.update)
            policy_set = policy_set.current
        self._state = self._build(policy_set)

    def __repr__(self) -> str:
        return f"Engine(policy_version={self.policy_version[:12]!r}, cache_size={self._cache_size})"

    @property
    def policy_set(self) -> PolicySet:
        return self._state.compiled.policy

    @property
    def policy_version(self) -> str:
        return self._state.compiled.version

    def update(self, policy_set: PolicySet) -> None:
        """Swap in a new policy set atomically; the old cache goes with the old policy."""
        self._state = self._build(policy_set)

    def _build(self, policy_set: PolicySet) -> _State:
        if not isinstance(policy_set, PolicySet):
            raise PolicyConfigError("Engine needs a PolicySet (see PolicySet.from_file)")
        cache = DecisionCache(self._cache_size) if self._cache_size else None
        return _State(CompiledPolicy(policy_set), cache)

    # -- deciding -------------------------------------------------------------

    def decide(
        self,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide one request; never raises for bad request data (it denies instead).

        ``subject`` is a :class:`Subject`, a principal string, a mapping or a
        SecurityContext; ``resource`` a :class:`Resource`, ``"type:id"`` or
        a mapping. Emits one ``authorization`` audit event.
        """
        state = self._state
        cache = state.cache
        key = _cache_key(subject, action, resource, context) if cache is not None else None
        if key is not None:
            hit = cache.get(key)  # type: ignore[union-attr]
            if hit is not None:
                if _audit.enabled():
                    self._audit(hit, subject, action, resource, cached=True)
                return hit
        decision, clock_used = self._decide_uncached(
            state.compiled, subject, action, resource, context
        )
        if key is not None and not clock_used:
            cache.put(key, decision)  # type: ignore[union-attr]
        if _audit.enabled():
            self._audit(decision, subject, action, resource, cached=False)
        return decision

    def _decide_uncached(
        self,
        compiled: CompiledPolicy,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike,
        context: Mapping[str, Any] | None,
    ) -> tuple[Decision, bool]:
        try:
            req, rkey = self._request(compiled, subject, action, resource, context)
        except PathNormalizationError as exc:
            return self._refused(compiled, exc.code, str(exc)), False
        except PolicyConfigError as exc:
            return self._refused(compiled, "policy.bad_request", str(exc)), False
        if req is None:
            return self._refused(compiled, "policy.oversize", "request attribute too large"), False
        try:
            decision = self._evaluate(compiled, req, rkey)
        except Exception:  # noqa: BLE001  a decision point fails closed, whatever the input did
            return self._refused(
                compiled, "policy.bad_request", "request could not be evaluated"
            ), False
        return decision, req.clock_used

    def _request(
        self,
        compiled: CompiledPolicy,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike,
        context: Mapping[str, Any] | None,
    ) -> tuple[EvalRequest | None, str]:
        subj = to_subject(subject)
        res = to_resource(resource)
        if not isinstance(action, str):
            raise PolicyConfigError("action must be a string")
        ctx: Mapping[str, Any] = _EMPTY if context is None else context
        if type(ctx) is not dict and not isinstance(ctx, Mapping):
            raise PolicyConfigError("context must be a mapping")
        rid = res.id
        if res.type == "http":
            rid = normalize_path(rid, case_sensitive=compiled.case_sensitive_paths)
        if (
            _facts(subj)[1]
            or _facts(res)[1]
            or len(action) > MAX_ATTRIBUTE_LENGTH
            or len(rid) > MAX_ATTRIBUTE_LENGTH
            or (ctx and _oversize(ctx, [_MAX_CONTEXT_ITEMS]))
        ):
            return None, ""
        req = EvalRequest(
            subj.principal,
            subj.peer_id,
            subj.claims,
            subj.scopes,
            action,
            res.type,
            rid,
            res.attributes,
            ctx,
            self._clock,
        )
        return req, f"{res.type}:{rid}"

    def _evaluate(self, compiled: CompiledPolicy, req: EvalRequest, rkey: str) -> Decision:
        notes: list[str] = []
        matched = [
            candidate
            for candidate in compiled.candidates(req.action, req.principal or "")
            if candidate.match_resource(rkey) and candidate.conditions_hold(req, notes)
        ]
        enforced = [r for r in matched if not r.dry] if compiled.has_dry_rules else matched
        allowed, rule, obligations = _combine(enforced)
        if compiled.set_dry_run:
            # A whole set in dry run enforces nothing: it reports, then allows.
            allowed, rule, obligations = True, None, _EMPTY
        dry_outcome, dry_rule = None, None
        if compiled.has_dry_rules:
            shadow_allowed, shadow_rule, _ = _combine(matched)
            if shadow_allowed != allowed or compiled.set_dry_run:
                dry_outcome = "would allow" if shadow_allowed else "would deny"
                dry_rule = shadow_rule.id if shadow_rule is not None else None
                notes.append(f"dry run: {dry_outcome} (rule {dry_rule or 'default deny'})")
        if rule is not None:
            notes.insert(0, f"{'allowed' if allowed else 'denied'} by rule {rule.id}")
        elif not allowed:
            notes.insert(0, "no rule allows: default deny")
        else:
            notes.insert(0, "policy set is in dry run: nothing enforced")
        return Decision(
            allowed=allowed,
            effect="allow" if allowed else "deny",
            rule_id=rule.id if rule is not None else None,
            reasons=tuple(notes),
            obligations=obligations,
            policy_version=compiled.version,
            decision_id=self._next_id(),
            dry_run=dry_outcome,  # type: ignore[arg-type]
            dry_run_rule_id=dry_rule,
        )

    def _refused(self, compiled: CompiledPolicy, code: str, message: str) -> Decision:
        return Decision(
            allowed=False,
            effect="deny",
            rule_id=None,
            reasons=(f"request refused [{code}]: {message}",),
            policy_version=compiled.version,
            decision_id=self._next_id(),
        )

    def _next_id(self) -> str:
        return f"{self._id_prefix}{next(self._ids):x}"

    def _audit(
        self,
        decision: Decision,
        subject: SubjectLike,
        action: object,
        resource: ResourceLike,
        *,
        cached: bool,
    ) -> None:
        if not _audit.enabled():
            return
        # A dry-run "would deny" is the signal a new rule is being watched for:
        # it is recorded like a denial, never sampled away with the allows.
        if (
            decision.allowed
            and decision.dry_run is None
            and self._sample < 1.0
            and self._random.random() >= self._sample
        ):
            return
        _audit.decision(
            decision,
            action=str(action)[:256],
            actor=actor_of(subject),
            target=target_of(resource),
            cached=cached,
        )

    # -- explaining -----------------------------------------------------------

    def explain(
        self,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike = None,
        context: Mapping[str, Any] | None = None,
    ) -> Explanation:
        """Decide without the cache or audit, and trace every rule: matched or why not."""
        compiled = self._state.compiled
        decision, _ = self._decide_uncached(compiled, subject, action, resource, context)
        try:
            req, rkey = self._request(compiled, subject, action, resource, context)
        except (PathNormalizationError, PolicyConfigError):
            req = None
        traces = tuple(_trace(rule, req, rkey) for rule in compiled.rules) if req else ()
        return Explanation(decision=decision, rules=traces)


def _combine(
    matched: list[CompiledRule],
) -> tuple[bool, CompiledRule | None, Mapping[str, Any]]:
    """Deny overrides; the smallest matching id decides; allow obligations merge."""
    denies = [r for r in matched if r.effect == "deny"]
    if denies:
        return False, min(denies, key=_rule_id), _EMPTY
    if not matched:
        return False, None, _EMPTY
    ordered = sorted(matched, key=_rule_id)
    obligations: dict[str, Any] = {}
    for rule in reversed(ordered):
        obligations.update(rule.obligations)  # the smallest id wins a shared key
    # Read-only: a cached Decision is shared by every caller that gets it.
    return True, ordered[0], MappingProxyType(obligations) if obligations else _EMPTY


def _rule_id(rule: CompiledRule) -> str:
    return rule.id


def _trace(rule: CompiledRule, req: EvalRequest, rkey: str) -> RuleTrace:
    detail: list[str] = []
    spec = rule.rule
    ok = _any_glob(spec.principals, req.principal or "", "principal", detail)
    ok = _any_glob(spec.actions, req.action, "action", detail) and ok
    ok = _any_glob(rule.resource_patterns, rkey, "resource", detail) and ok
    for condition, check in rule.checks:
        outcome = check(req)
        detail.append(f"when {condition.describe()}: {OUTCOME_TEXT[outcome]}")
        ok = ok and outcome == TRUE
    return RuleTrace(
        rule_id=rule.id,
        effect=rule.effect,
        mode="dry_run" if rule.dry else "enforce",
        matched=ok,
        detail=tuple(detail),
    )


def _any_glob(patterns: tuple[str, ...], value: str, label: str, detail: list[str]) -> bool:
    hit = next((p for p in patterns if compile_glob(p)(value)), None)
    detail.append(f"{label} {'matches ' + repr(hit) if hit else 'matches no pattern'}")
    return hit is not None


def _facts(value: Subject | Resource) -> tuple[Hashable | None, bool]:
    """(cache key part, oversize?) of an immutable request object, computed once."""
    facts: tuple[Hashable | None, bool] | None = value._facts
    if facts is None:
        if isinstance(value, Subject):
            texts: tuple[str, ...] = (value.principal or "", value.peer_id or "")
            parts: tuple[Any, ...] = (value.principal, value.peer_id, value.claims, value.scopes)
            nested: Mapping[str, Any] = value.claims
        else:
            texts = (value.type, value.id)
            parts = (value.type, value.id, value.attributes)
            nested = value.attributes
        try:
            key: Hashable | None = freeze(parts)
        except Uncacheable:
            key = None
        big = any(len(t) > MAX_ATTRIBUTE_LENGTH for t in texts) or (
            bool(nested) and _oversize(nested, [_MAX_CONTEXT_ITEMS])
        )
        facts = (key, big)
        object.__setattr__(value, "_facts", facts)  # a private memo on a frozen value
    return facts


def _cache_key(
    subject: SubjectLike, action: str, resource: ResourceLike, context: Mapping[str, Any] | None
) -> Hashable | None:
    try:
        s = _facts(subject)[0] if isinstance(subject, Subject) else freeze(subject)
        r = _facts(resource)[0] if isinstance(resource, Resource) else freeze(resource)
        if s is None or (r is None and resource is not None):
            return None
        c = None if context is None else freeze(context)
        return (s, freeze(action), r, c)
    except Uncacheable:
        return None


def _oversize(value: Any, budget: list[int], depth: int = 0) -> bool:
    budget[0] -= 1
    if budget[0] < 0 or depth > 16:
        return True
    if isinstance(value, str):
        return len(value) > MAX_ATTRIBUTE_LENGTH
    if isinstance(value, Mapping):
        return any(
            _oversize(k, budget, depth + 1) or _oversize(v, budget, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return any(_oversize(v, budget, depth + 1) for v in value)
    return False


def actor_of(subject: SubjectLike) -> str | None:
    if isinstance(subject, str):
        return subject[:MAX_ATTRIBUTE_LENGTH]
    if isinstance(subject, Subject):
        return subject.principal
    try:
        return to_subject(subject).principal
    except PolicyConfigError:
        return None


def target_of(resource: ResourceLike) -> str:
    """The audit target ``type:id``; an HTTP query or fragment (often secrets) is cut off."""
    text = resource if isinstance(resource, str) else None
    if text is None:
        try:
            text = str(to_resource(resource))
        except PolicyConfigError:
            return "?"
    if text.startswith("http:"):
        text = re.split(r"[?#]", text, maxsplit=1)[0]
    return text[:MAX_ATTRIBUTE_LENGTH]
