"""The policy document: validation on load, canonical form and version id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from meshsec.policy._conditions import OPERATORS, Check, compile_condition
from meshsec.policy._errors import PolicyConfigError
from meshsec.policy._glob import MAX_STARS, star_count
from meshsec.policy._request import deep_freeze

if TYPE_CHECKING:
    from meshsec.tokens import KeySet, SigningKey

FORMAT_VERSION = 1
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_PATTERN_LENGTH = 1024

Effect = Literal["allow", "deny"]
Mode = Literal["enforce", "dry_run"]

_TOP_KEYS = frozenset(("version", "rules", "mode", "case_sensitive_paths", "name", "description"))
_RULE_KEYS = frozenset(
    (
        "id",
        "effect",
        "principals",
        "actions",
        "resources",
        "when",
        "obligations",
        "mode",
        "description",
    )
)
_CONDITION_KEYS = frozenset(("attr", "op", "value", "ref", "tz"))


@attrs.frozen(kw_only=True)
class Condition:
    """One ``when`` entry; ``check`` is its closure compiled at load time."""

    attr: str
    op: str
    value: Any = None
    ref: str | None = None
    tz: str | None = None
    check: Check = attrs.field(eq=False, repr=False)

    def describe(self) -> str:
        operand = f"ref {self.ref}" if self.ref is not None else json.dumps(self.value)
        suffix = f" ({self.tz})" if self.tz else ""
        return f"{self.attr} {self.op} {operand}{suffix}"


@attrs.frozen(kw_only=True)
class Rule:
    """One validated rule. Patterns are globs (``*``, ``?``); ``resources`` match ``type:id``."""

    id: str
    effect: Effect
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    when: tuple[Condition, ...] = ()
    obligations: Mapping[str, Any] = attrs.field(factory=dict, converter=deep_freeze)
    mode: Mode = "enforce"
    description: str | None = None


@attrs.frozen(kw_only=True)
class PolicySet:
    """A validated, immutable set of rules.

    ``version_id`` is the SHA-256 (hex) of the canonical document: sorted
    keys, rules sorted by id, compact JSON, UTF-8. Two documents that differ
    only in rule order, key order, whitespace or YAML-vs-JSON share it.
    """

    rules: tuple[Rule, ...]
    mode: Mode = "enforce"
    case_sensitive_paths: bool = True
    name: str | None = None
    version_id: str = attrs.field(repr=lambda v: v[:12])
    canonical: bytes = attrs.field(repr=False, eq=False)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> PolicySet:
        """Validate a parsed document; raise PolicyConfigError naming the rule and field."""
        return _build(document)

    @classmethod
    def from_json(cls, text: str | bytes) -> PolicySet:
        """Parse and validate a JSON document (duplicate keys and NaN are rejected)."""
        return _build(parse_json(text))

    @classmethod
    def from_yaml(cls, text: str | bytes) -> PolicySet:
        """Parse and validate a YAML document (needs the ``meshsec[yaml]`` extra)."""
        return _build(parse_yaml(text))

    @classmethod
    def from_file(cls, path: str | Path) -> PolicySet:
        """Load ``.json``, or ``.yaml``/``.yml`` (extra ``meshsec[yaml]``)."""
        return _build(load_document(Path(path)))

    @classmethod
    def from_bundle(cls, path: str | Path, *, keys: KeySet) -> PolicySet:
        """Load a signed bundle; only a valid detached JWS by a key in ``keys`` is accepted.

        Raises PolicyBundleError (unsigned, tampered, untrusted) or
        PolicyConfigError (the signed document itself is invalid).
        """
        from meshsec.policy._bundle import bundle_from_bytes

        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise PolicyConfigError(f"cannot read policy bundle {path}: {exc.strerror}") from None
        return bundle_from_bytes(data, keys)

    def to_bundle(self, key: SigningKey) -> bytes:
        """This policy as a signed bundle (JSON bytes), signed by the private ``key``."""
        from meshsec.policy._bundle import sign_bundle

        return sign_bundle(self, key)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        """The canonical document as plain data."""
        result: dict[str, Any] = json.loads(self.canonical)
        return result


# -- parsing -----------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise PolicyConfigError(f"policy document contains {name}, which is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PolicyConfigError(f"policy document repeats the key {key!r}")
        result[key] = value
    return result


def parse_json(text: str | bytes) -> Any:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise PolicyConfigError("policy document is larger than 16 MiB")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, PolicyConfigError):
            raise
        raise PolicyConfigError(f"policy document is not valid JSON: {exc}") from None


def parse_yaml(text: str | bytes) -> Any:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise PolicyConfigError("policy document is larger than 16 MiB")
    try:
        import yaml
    except ImportError:
        raise PolicyConfigError(
            "YAML policy documents need PyYAML: install the extra 'meshsec[yaml]'"
        ) from None
    loader = _strict_loader(yaml)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506  loader is a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyConfigError(f"policy document is not valid YAML: {exc}") from None
    except RecursionError:
        raise PolicyConfigError("policy document nests too deeply") from None


def _strict_loader(yaml: Any) -> Any:
    class StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
        """SafeLoader that refuses duplicate keys (PyYAML keeps the last) and aliases.

        Aliases are how a few hundred bytes of YAML expand into gigabytes
        ("billion laughs"); a policy document never needs them.
        """

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise PolicyConfigError("policy document uses a YAML alias; write it out")
            return super().compose_node(parent, index)

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool) and key is not None:
                # YAML allows "? [a, b]" keys; Python cannot hash a list.
                raise PolicyConfigError("policy document uses a non-scalar mapping key")
            if key in result:
                raise PolicyConfigError(f"policy document repeats the key {key!r}")
            result[key] = loader.construct_object(value_node, deep=deep)
        return result

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


def load_document(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyConfigError(f"cannot read policy file {path}: {exc.strerror}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        return parse_yaml(data)
    return parse_json(data)


# -- validation --------------------------------------------------------------


def _build(document: Any) -> PolicySet:
    if not isinstance(document, Mapping):
        raise PolicyConfigError("policy document must be a mapping with 'version' and 'rules'")
    _unknown_keys(document, _TOP_KEYS, "policy")
    if document.get("version") != FORMAT_VERSION or isinstance(document.get("version"), bool):
        raise PolicyConfigError(f"policy.version: must be {FORMAT_VERSION}")
    rules_doc = document.get("rules")
    if not isinstance(rules_doc, list):
        raise PolicyConfigError("policy.rules: must be a list of rules")
    rules = _unique_rules(rules_doc)
    mode = _mode(document.get("mode", "enforce"), "policy.mode")
    case_sensitive = document.get("case_sensitive_paths", True)
    if not isinstance(case_sensitive, bool):
        raise PolicyConfigError("policy.case_sensitive_paths: must be true or false")
    name = _optional_text(document.get("name"), "policy.name")
    canonical_doc: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "mode": mode,
        "case_sensitive_paths": case_sensitive,
        "rules": [_rule_doc(rule) for rule in rules],
    }
    if name is not None:
        canonical_doc["name"] = name
    try:
        canonical = canonical_bytes(canonical_doc)
    except ValueError:
        # A lone surrogate cannot be UTF-8; int -> str refuses more than 4,300
        # digits (CVE-2020-10735). Either way there are no canonical bytes.
        raise PolicyConfigError(
            "policy document holds a lone surrogate or a number too large to write out"
        ) from None
    return PolicySet(
        rules=rules,
        mode=mode,
        case_sensitive_paths=case_sensitive,
        name=name,
        version_id=hashlib.sha256(canonical).hexdigest(),
        canonical=canonical,
    )


def _unique_rules(rules_doc: list[Any]) -> tuple[Rule, ...]:
    """Validated rules sorted by id (the order of the document never matters)."""
    rules: dict[str, Rule] = {}
    for index, raw in enumerate(rules_doc):
        rule = _rule(raw, index)
        if rule.id in rules:
            raise PolicyConfigError(f"rule {rule.id!r}: duplicate rule id")
        rules[rule.id] = rule
    return tuple(rules[rule_id] for rule_id in sorted(rules))


def canonical_bytes(document: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the bytes hashed and signed."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _unknown_keys(doc: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in doc if k not in allowed)
    if unknown:
        raise PolicyConfigError(f"{where}: unknown field {unknown[0]!r}")


def _mode(value: Any, where: str) -> Mode:
    if value not in ("enforce", "dry_run"):
        raise PolicyConfigError(f"{where}: must be 'enforce' or 'dry_run'")
    result: Mode = value
    return result


def _optional_text(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise PolicyConfigError(f"{where}: must be a string")
    return value


def _rule(raw: Any, index: int) -> Rule:
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(f"policy.rules[{index}]: must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id or len(rule_id) > 256:
        raise PolicyConfigError(f"policy.rules[{index}].id: required non-empty string")
    where = f"rule {rule_id!r}"
    _unknown_keys(raw, _RULE_KEYS, where)
    effect = raw.get("effect")
    if effect not in ("allow", "deny"):
        raise PolicyConfigError(f"{where}.effect: must be 'allow' or 'deny'")
    when_doc = raw.get("when", [])
    if not isinstance(when_doc, list):
        raise PolicyConfigError(f"{where}.when: must be a list of conditions")
    return Rule(
        id=rule_id,
        effect=effect,
        principals=_patterns(raw.get("principals"), f"{where}.principals"),
        actions=_patterns(raw.get("actions"), f"{where}.actions"),
        resources=_patterns(raw.get("resources"), f"{where}.resources"),
        when=tuple(_condition(c, f"{where}.when[{i}]") for i, c in enumerate(when_doc)),
        obligations=_obligations(raw.get("obligations", {}), f"{where}.obligations"),
        mode=_mode(raw.get("mode", "enforce"), f"{where}.mode"),
        description=_optional_text(raw.get("description"), f"{where}.description"),
    )


def _obligations(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise PolicyConfigError(f"{where}: must be a mapping with string keys")
    try:
        canonical_bytes(value)
    except (TypeError, ValueError, RecursionError):
        raise PolicyConfigError(f"{where}: must be plain JSON data") from None
    return dict(value)


def _rule_doc(rule: Rule) -> dict[str, Any]:
    """The rule as it appears in the canonical document (defaults spelled out)."""
    doc: dict[str, Any] = {
        "id": rule.id,
        "effect": rule.effect,
        "mode": rule.mode,
        "principals": list(rule.principals),
        "actions": list(rule.actions),
        "resources": list(rule.resources),
        "when": [_condition_doc(c) for c in rule.when],
        "obligations": json.loads(canonical_bytes(_thawed(rule.obligations))),
    }
    if rule.description is not None:
        doc["description"] = rule.description
    return doc


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value


def _patterns(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyConfigError(f"{where}: required non-empty list of glob patterns")
    for item in value:
        if not isinstance(item, str) or not item or len(item) > MAX_PATTERN_LENGTH:
            raise PolicyConfigError(f"{where}: patterns must be non-empty strings")
        if star_count(item) > MAX_STARS:
            raise PolicyConfigError(f"{where}: pattern has more than {MAX_STARS} '*' runs")
    return tuple(dict.fromkeys(value))


def _condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(f"{where}: must be a mapping with attr and op")
    _unknown_keys(raw, _CONDITION_KEYS, where)
    attr, op = raw.get("attr"), raw.get("op")
    if not isinstance(attr, str):
        raise PolicyConfigError(f"{where}.attr: required string")
    if op not in OPERATORS:
        raise PolicyConfigError(f"{where}.op: unknown operator {op!r}")
    if "value" in raw and "ref" in raw:
        raise PolicyConfigError(f"{where}: give either 'value' or 'ref', not both")
    if op != "exists" and "value" not in raw and "ref" not in raw:
        raise PolicyConfigError(f"{where}: operator {op!r} needs 'value' or 'ref'")
    if "ref" in raw and not isinstance(raw["ref"], str):
        raise PolicyConfigError(f"{where}.ref: must be an attribute name")
    if "tz" in raw and op != "between":
        raise PolicyConfigError(f"{where}.tz: only 'between' takes a time zone")
    check = compile_condition(raw, where)
    return Condition(
        attr=attr,
        op=op,
        value=_plain(raw.get("value", True if op == "exists" else None)),
        ref=raw.get("ref"),
        tz=raw.get("tz"),
        check=check,
    )


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _condition_doc(condition: Condition) -> dict[str, Any]:
    doc: dict[str, Any] = {"attr": condition.attr, "op": condition.op}
    if condition.ref is not None:
        doc["ref"] = condition.ref
    elif condition.value is not None or condition.op != "exists":
        doc["value"] = (
            list(condition.value) if isinstance(condition.value, tuple) else condition.value
        )
    if condition.tz is not None:
        doc["tz"] = condition.tz
    return doc
