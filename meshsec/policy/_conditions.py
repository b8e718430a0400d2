"""Conditions compiled into closures at load time.

Each compiled condition is ``check(request) -> int`` returning one of TRUE,
FALSE, MISSING (an attribute is absent) or MISMATCH (a value has the wrong
type). MISSING and MISMATCH count as false: a condition never errs towards
allowing, and the explanation records which of the two happened.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meshsec.clock import Clock
from meshsec.policy._errors import PolicyConfigError
from meshsec.policy._glob import MAX_STARS, compile_glob, star_count

FALSE, TRUE, MISSING, MISMATCH = 0, 1, 2, 3
OUTCOME_TEXT = {
    FALSE: "false",
    TRUE: "true",
    MISSING: "missing attribute",
    MISMATCH: "type mismatch",
}

OPERATORS = frozenset(
    [
        "eq",
        "ne",
        "in",
        "not_in",
        "lt",
        "le",
        "gt",
        "ge",
        "prefix",
        "glob",
        "contains",
        "exists",
        "in_cidr",
        "between",
    ]
)
_REF_OPERATORS = frozenset(
    ["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "prefix", "contains"]
)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING_VALUE: Any = _Missing()


class EvalRequest:
    """One request flattened for evaluation; ``clock_used`` marks time-dependence."""

    __slots__ = (
        "action",
        "claims",
        "clock",
        "clock_used",
        "context",
        "peer_id",
        "principal",
        "rattrs",
        "rid",
        "rtype",
        "scopes",
    )

    def __init__(  # noqa: PLR0917  positional on purpose: built on every decision
        self,
        principal: str | None,
        peer_id: str | None,
        claims: Mapping[str, Any],
        scopes: frozenset[str],
        action: str,
        rtype: str,
        rid: str,
        rattrs: Mapping[str, Any],
        context: Mapping[str, Any],
        clock: Clock,
    ) -> None:
        self.principal, self.peer_id, self.claims, self.scopes = principal, peer_id, claims, scopes
        self.action, self.rtype, self.rid, self.rattrs = action, rtype, rid, rattrs
        self.context, self.clock, self.clock_used = context, clock, False


Getter = Callable[[EvalRequest], Any]
Check = Callable[[EvalRequest], int]


_PLAIN_MAPPINGS = (dict, MappingProxyType)


def _dig(root: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        # Exact type test first: ABC isinstance checks cost more than the lookup.
        if type(root) not in _PLAIN_MAPPINGS and not isinstance(root, Mapping):
            return MISSING_VALUE
        root = root.get(part, MISSING_VALUE)
        if root is MISSING_VALUE:
            return root
    return root


def _none_missing(value: Any) -> Any:
    return MISSING_VALUE if value is None else value


def _context_time(req: EvalRequest) -> Any:
    value = req.context.get("time", MISSING_VALUE)
    if value is MISSING_VALUE:
        # The engine's clock stands in for the request time; the decision now
        # depends on time, so it must not be cached (see _engine.py).
        req.clock_used = True
        return req.clock()
    return value


def compile_getter(attr: str, where: str) -> Getter:  # noqa: PLR0911  one branch per root
    """Compile a dotted attribute reference such as ``subject.claims.tenant``."""
    parts = tuple(attr.split("."))
    if not all(parts):
        raise PolicyConfigError(f"{where}: attribute {attr!r} has an empty segment")
    root, rest = parts[0], parts[1:]
    if root == "action" and not rest:
        return lambda r: r.action
    if root == "subject" and len(rest) == 1 and rest[0] in ("principal", "peer_id"):
        name = rest[0]
        return lambda r: _none_missing(getattr(r, name))
    if root == "subject" and rest == ("scopes",):
        return lambda r: r.scopes
    if root == "subject" and len(rest) >= 2 and rest[0] == "claims":
        path = rest[1:]
        return lambda r: _dig(r.claims, path)
    if root == "resource" and rest in (("type",), ("id",)):
        name = "rtype" if rest[0] == "type" else "rid"
        return lambda r: getattr(r, name)
    if root == "resource" and rest:
        path = rest[1:] if rest[0] == "attributes" and len(rest) > 1 else rest
        return lambda r: _dig(r.rattrs, path)
    if root == "context" and rest == ("time",):
        return _context_time
    if root == "context" and rest:
        return lambda r: _dig(r.context, rest)
    raise PolicyConfigError(
        f"{where}: unknown attribute {attr!r} (roots: subject.principal, subject.peer_id, "
        "subject.claims.*, subject.scopes, action, resource.type, resource.id, "
        "resource.attributes.*, context.*)"
    )


def kind(value: Any) -> str:  # noqa: PLR0911  one branch per JSON type
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        # NaN compares false with everything and inf beats every limit: a
        # request carrying one must not satisfy (or dodge) a numeric rule.
        return "number" if math.isfinite(value) else "other"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list | tuple | set | frozenset):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return "other"


_SCALARS = frozenset(("bool", "number", "string", "null"))


# -- operators over two values: (attribute value, operand) -> outcome --------


def _eq(a: Any, b: Any) -> int:
    ka = kind(a)
    if ka not in _SCALARS or ka != kind(b):
        return MISMATCH
    return TRUE if a == b else FALSE


def _ne(a: Any, b: Any) -> int:
    result = _eq(a, b)
    return result if result == MISMATCH else TRUE - result


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], int]:
    def op(a: Any, b: Any) -> int:
        ka = kind(a)
        if ka not in ("number", "string") or ka != kind(b):
            return MISMATCH
        return TRUE if compare(a, b) else FALSE

    return op


def _member(a: Any, b: Any) -> int:
    if kind(b) != "list":
        return MISMATCH
    ka = kind(a)
    if ka not in _SCALARS:
        return MISMATCH
    same = [item for item in b if kind(item) == ka]
    if not same and b:
        return MISMATCH
    return TRUE if a in same else FALSE


def _not_member(a: Any, b: Any) -> int:
    result = _member(a, b)
    return result if result == MISMATCH else TRUE - result


def _prefix(a: Any, b: Any) -> int:
    if not isinstance(a, str) or not isinstance(b, str):
        return MISMATCH
    return TRUE if a.startswith(b) else FALSE


def _contains(a: Any, b: Any) -> int:
    ka, kb = kind(a), kind(b)
    if ka == "string" and kb == "string":
        return TRUE if b in a else FALSE
    if ka != "list" or kb not in _SCALARS:
        return MISMATCH
    return TRUE if any(kind(item) == kb and item == b for item in a) else FALSE


_BINARY: dict[str, Callable[[Any, Any], int]] = {
    "eq": _eq,
    "ne": _ne,
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    "in": _member,
    "not_in": _not_member,
    "prefix": _prefix,
    "contains": _contains,
}


# -- compilation -------------------------------------------------------------


def compile_condition(spec: Mapping[str, Any], where: str) -> Check:
    """Validate one ``when`` entry and return its compiled check."""
    op = spec["op"]
    getter = compile_getter(spec["attr"], where)
    if "ref" in spec:
        if op not in _REF_OPERATORS:
            raise PolicyConfigError(f"{where}: operator {op!r} does not accept 'ref'")
        return _with_ref(getter, compile_getter(spec["ref"], where + ".ref"), _BINARY[op])
    if op == "exists":
        return _exists(getter, spec.get("value", True), where)
    if op == "glob":
        return _glob(getter, spec.get("value"), where)
    if op == "in_cidr":
        return _in_cidr(getter, spec.get("value"), where)
    if op == "between":
        return _between(getter, spec.get("value"), spec.get("tz"), where)
    value = _validated_operand(op, spec.get("value"), where)
    return _with_value(getter, value, _BINARY[op])


def _validated_operand(op: str, value: Any, where: str) -> Any:
    k = kind(value)
    if op in ("in", "not_in"):
        if k != "list" or not value or len({kind(v) for v in value}) != 1:
            raise PolicyConfigError(f"{where}.value: {op!r} needs a non-empty list of one type")
        if kind(value[0]) not in _SCALARS:
            raise PolicyConfigError(f"{where}.value: {op!r} list items must be scalars")
        return tuple(value)
    if op in ("lt", "le", "gt", "ge") and k not in ("number", "string"):
        raise PolicyConfigError(f"{where}.value: {op!r} needs a number or a string")
    if op == "prefix" and k != "string":
        raise PolicyConfigError(f"{where}.value: 'prefix' needs a string")
    if op in ("eq", "ne", "contains") and k not in _SCALARS:
        raise PolicyConfigError(f"{where}.value: {op!r} needs a scalar value")
    if k == "number" and isinstance(value, float) and not math.isfinite(value):
        raise PolicyConfigError(f"{where}.value: numbers must be finite")
    return value


def _with_value(getter: Getter, value: Any, op: Callable[[Any, Any], int]) -> Check:
    if op is _contains and isinstance(value, str):
        return _contains_text(getter, value)

    def check(req: EvalRequest) -> int:
        a = getter(req)
        if a is MISSING_VALUE:
            return MISSING
        return op(a, value)

    return check


def _contains_text(getter: Getter, value: str) -> Check:
    """``contains`` with a string operand, the common role check, without per-item typing.

    ``in`` on a list compares with ``==``, and only a str equals a str, so
    the membership test alone is exact here.
    """

    def check(req: EvalRequest) -> int:
        a = getter(req)
        if a is MISSING_VALUE:
            return MISSING
        if isinstance(a, tuple | list | frozenset | set | str):
            return TRUE if value in a else FALSE
        return MISMATCH

    return check


def _with_ref(getter: Getter, ref: Getter, op: Callable[[Any, Any], int]) -> Check:
    def check(req: EvalRequest) -> int:
        a, b = getter(req), ref(req)
        if a is MISSING_VALUE or b is MISSING_VALUE:
            return MISSING
        return op(a, b)

    return check


def _exists(getter: Getter, wanted: Any, where: str) -> Check:
    if not isinstance(wanted, bool):
        raise PolicyConfigError(f"{where}.value: 'exists' takes true or false")

    def check(req: EvalRequest) -> int:
        return TRUE if (getter(req) is not MISSING_VALUE) == wanted else FALSE

    return check


def _glob(getter: Getter, pattern: Any, where: str) -> Check:
    if not isinstance(pattern, str):
        raise PolicyConfigError(f"{where}.value: 'glob' needs a pattern string")
    if star_count(pattern) > MAX_STARS:
        raise PolicyConfigError(f"{where}.value: glob has more than {MAX_STARS} '*' runs")
    match = compile_glob(pattern)

    def check(req: EvalRequest) -> int:
        a = getter(req)
        if a is MISSING_VALUE:
            return MISSING
        if not isinstance(a, str):
            return MISMATCH
        return TRUE if match(a) else FALSE

    return check


def _in_cidr(getter: Getter, value: Any, where: str) -> Check:
    items = [value] if isinstance(value, str) else value
    if kind(items) != "list" or not items or not all(isinstance(v, str) for v in items):
        raise PolicyConfigError(f"{where}.value: 'in_cidr' needs a list of CIDR strings")
    try:
        networks = tuple(_unmapped(ipaddress.ip_network(v, strict=True)) for v in items)
    except ValueError as exc:
        raise PolicyConfigError(f"{where}.value: bad CIDR ({exc})") from None

    def check(req: EvalRequest) -> int:
        a = getter(req)
        if a is MISSING_VALUE:
            return MISSING
        address = parse_ip(a)
        if address is None:
            return MISMATCH
        return TRUE if any(address in net for net in networks) else FALSE

    return check


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _unmapped(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Any:
    """``::ffff:10.0.0.0/104`` is ``10.0.0.0/8``: addresses are compared unmapped (below).

    Left as IPv6 it could never contain anything, and a deny written that
    way would silently never apply.
    """
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None  # inside ::ffff:0:0/96
        return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an address; IPv4-mapped IPv6 (``::ffff:10.0.0.1``) counts as IPv4.

    Without the mapping a deny on ``10.0.0.0/8`` could be dodged by writing
    the same address in its IPv6 form (RFC 4291 section 2.5.5.2).
    """
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        address = value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
    else:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")


def _parse_time_of_day(text: Any, where: str) -> time:
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise PolicyConfigError(f"{where}.value: times must be quoted 'HH:MM' or 'HH:MM:SS'")
    return time(int(match[1]), int(match[2]), int(match[3] or 0))


def _load_zone(tz: Any, where: str) -> tzinfo:
    if not isinstance(tz, str):
        raise PolicyConfigError(f"{where}.tz: 'between' needs a time zone such as 'Europe/Berlin'")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PolicyConfigError(
            f"{where}.tz: unknown time zone {tz!r} (install the 'tzdata' package on "
            "platforms without a system zone database)"
        ) from exc


def _between(getter: Getter, value: Any, tz: Any, where: str) -> Check:
    if kind(value) != "list" or len(value) != 2:
        raise PolicyConfigError(f"{where}.value: 'between' needs [start, end] times of day")
    start, end = (_parse_time_of_day(v, where) for v in value)
    if start == end:
        raise PolicyConfigError(f"{where}.value: 'between' start and end must differ")
    zone = _load_zone(tz, where)
    wraps = end < start  # e.g. 22:00-06:00 crosses midnight

    def check(req: EvalRequest) -> int:
        instant = as_instant(getter(req))
        if instant is MISSING_VALUE:
            return MISSING
        if instant is None:
            return MISMATCH
        local = instant.astimezone(zone).time()
        inside = (local >= start or local < end) if wraps else (start <= local < end)
        return TRUE if inside else FALSE

    return check


def as_instant(value: Any) -> Any:  # noqa: PLR0911  one branch per accepted form
    """POSIX seconds, an aware datetime or an ISO 8601 string with offset; else None."""
    if value is MISSING_VALUE:
        return value
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None
