"""Policy decisions: meshsec Engine beside pycasbin's FastEnforcer and cedarpy.

One role-based policy (50 roles, 500 rules: role r may do action a on
resources of type t) is written for each engine. Requests cycle over 256
users/actions/resources with a mix of allows and denials. "uncached" runs
the Engine with ``cache_size=0`` (every call evaluates the indexed rules and
builds a new Decision); "cached" uses the default decision cache. cedarpy
uses pre-parsed PolicySet and Entities handles; FastEnforcer filters
policies by action (``cache_key_order=[2]``).
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._harness import compare, fmt_time, per_op, row
from meshsec.policy import Engine, PolicySet, Resource, Subject

ROLES = 50
RULES_PER_ROLE = 10
ACTIONS = 100
TYPES = 20
USERS = 200

CASBIN_MODEL = """
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act
"""


def grants(rules: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(role, action, resource type) triples; actions grow with the rule count."""
    rnd = random.Random(seed)
    actions = max(2, rules // 5)
    roles = max(1, min(ROLES, rules // 2))
    return [
        (
            f"role{i % roles}",
            f"svc{rnd.randrange(actions) % 100}:op{rnd.randrange(actions) // 100}",
            f"type{rnd.randrange(TYPES)}",
        )
        for i in range(rules)
    ]


def meshsec_policy(triples: list[tuple[str, str, str]]) -> PolicySet:
    rules = [
        {
            "id": f"r{n:05d}",
            "effect": "allow",
            "principals": ["*"],
            "actions": [action],
            "resources": [f"{rtype}:*"],
            "when": [{"attr": "subject.claims.roles", "op": "contains", "value": role}],
        }
        for n, (role, action, rtype) in enumerate(triples)
    ]
    return PolicySet.from_dict({"version": 1, "rules": rules})


def workload(triples: list[tuple[str, str, str]], seed: int = 11) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    roles = sorted({t[0] for t in triples})
    out = []
    for i in range(256):
        user = f"user{rnd.randrange(USERS)}"
        role = roles[int(user[4:]) % len(roles)]
        if i % 2:  # a request its role grants
            _, action, rtype = rnd.choice([t for t in triples if t[0] == role] or triples)
        else:  # usually a denial
            _, action, rtype = rnd.choice(triples)
        out.append({"user": user, "role": role, "action": action, "type": rtype, "id": str(i)})
    return out


def cycle(items: list[Any]) -> Any:
    state = {"i": 0}
    n = len(items)

    def nxt() -> Any:
        state["i"] = (state["i"] + 1) % n
        return items[state["i"]]

    return nxt


def warm(op: Any, n: int) -> Any:
    """Run the whole workload once so every engine is measured in steady state."""
    for _ in range(2 * n):
        op()
    return op


def engine_op(engine: Engine, reqs: list[dict[str, Any]]) -> Any:
    prepared = [
        (
            Subject(principal=r["user"], claims={"roles": [r["role"]]}),
            r["action"],
            Resource(type=r["type"], id=r["id"]),
        )
        for r in reqs
    ]
    nxt = cycle(prepared)
    decide = engine.decide

    def op() -> object:
        s, a, res = nxt()
        return decide(s, a, res)

    return warm(op, len(prepared))


def casbin_op(triples: list[tuple[str, str, str]], reqs: list[dict[str, Any]], tmp: Path) -> Any:
    import casbin

    model = tmp / "model.conf"
    model.write_text(CASBIN_MODEL)
    lines = [f"p, {role}, /{rtype}/*, {action}" for role, action, rtype in triples]
    lines += [f"g, user{u}, {r['role']}" for u, r in {int(r["user"][4:]): r for r in reqs}.items()]
    csv = tmp / "policy.csv"
    csv.write_text("\n".join(lines) + "\n")
    enforcer = casbin.FastEnforcer(str(model), str(csv), cache_key_order=[2])
    prepared = [(r["user"], f"/{r['type']}/{r['id']}", r["action"]) for r in reqs]
    nxt = cycle(prepared)
    enforce = enforcer.enforce

    def op() -> object:
        return enforce(*nxt())

    return warm(op, len(prepared)), enforcer


def cedar_op(triples: list[tuple[str, str, str]], reqs: list[dict[str, Any]]) -> Any:
    import cedarpy

    text = "\n".join(
        f'permit(principal in Role::"{role}", action == Action::"{action}", resource is {rtype});'
        for role, action, rtype in triples
    )
    policies = cedarpy.PolicySet.from_str(text)
    roles = sorted({t[0] for t in triples})
    users = {r["user"]: r["role"] for r in reqs}
    entities = [{"uid": {"type": "Role", "id": r}, "attrs": {}, "parents": []} for r in roles]
    entities += [
        {"uid": {"type": "User", "id": u}, "attrs": {}, "parents": [{"type": "Role", "id": role}]}
        for u, role in users.items()
    ]
    handle = cedarpy.Entities.from_json_str(json.dumps(entities))
    prepared = [
        {
            "principal": {"type": "User", "id": r["user"]},
            "action": {"type": "Action", "id": r["action"]},
            "resource": {"type": r["type"], "id": r["id"]},
            "context": {},
        }
        for r in reqs
    ]
    nxt = cycle(prepared)
    is_authorized = cedarpy.is_authorized

    def op() -> object:
        return is_authorized(nxt(), policies, handle)

    return warm(op, len(prepared)), policies, handle


def check_agreement(
    triples: list[tuple[str, str, str]],
    reqs: list[dict[str, Any]],
    enforcer: Any,
    cedar: tuple[Any, Any],
) -> None:
    """All three engines must decide the workload identically, or the race is meaningless."""
    import cedarpy

    engine = Engine(meshsec_policy(triples), cache_size=0)
    for r in reqs:
        ours = engine.decide(
            Subject(principal=r["user"], claims={"roles": [r["role"]]}),
            r["action"],
            Resource(type=r["type"], id=r["id"]),
        ).allowed
        theirs = enforcer.enforce(r["user"], f"/{r['type']}/{r['id']}", r["action"])
        cedar_req = {
            "principal": {"type": "User", "id": r["user"]},
            "action": {"type": "Action", "id": r["action"]},
            "resource": {"type": r["type"], "id": r["id"]},
            "context": {},
        }
        cedars = cedarpy.is_authorized(cedar_req, *cedar).allowed
        if not ours == theirs == cedars:
            raise AssertionError(f"engines disagree on {r}: {ours} {theirs} {cedars}")


def main() -> None:
    triples = grants(ROLES * RULES_PER_ROLE)
    reqs = workload(triples)
    allowed = sum(1 for i in range(len(reqs)) if i % 2)
    print(
        f"  role-based policy: {len(triples)} rules, {ROLES} roles, "
        f"{len(reqs)} requests (~{allowed} granted by role)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        casbin, enforcer = casbin_op(triples, reqs, Path(tmp))
        cedar, policies, handle = cedar_op(triples, reqs)
        check_agreement(triples, reqs, enforcer, (policies, handle))
        uncached = engine_op(Engine(meshsec_policy(triples), cache_size=0), reqs)
        cached = engine_op(Engine(meshsec_policy(triples)), reqs)
        print(
            row(
                "Engine.decide uncached vs FastEnforcer",
                compare(uncached, casbin),
                target="<= 0.20x",
                raw_name="casbin",
            )
        )
        print(
            row(
                "Engine.decide uncached vs cedarpy (pre-parsed)",
                compare(uncached, cedar),
                target="<= 0.20x",
                raw_name="cedarpy",
            )
        )
        print(
            row(
                "Engine.decide cached vs FastEnforcer",
                compare(cached, casbin),
                target="<= 0.02x",
                raw_name="casbin",
            )
        )
    times = {}
    for count in (10, 100, 1_000, 10_000):
        scaled = grants(count)
        times[count] = per_op(
            engine_op(Engine(meshsec_policy(scaled), cache_size=0), workload(scaled))
        )
    for count, seconds in times.items():
        print(
            f"  Engine.decide uncached, {count:>6} rules: {seconds / times[100]:5.2f}x the "
            f"100-rule time ({fmt_time(seconds)}; target 10,000 rules <= 3x)"
        )


if __name__ == "__main__":
    main()
