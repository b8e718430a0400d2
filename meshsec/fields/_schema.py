"""The declarative field schema: which paths get which action and classification.

::

    version: 1
    fields:
      card.number:   {action: encrypt, classification: restricted, reveal_mask: last4}
      customer.email: {action: tokenize, classification: confidential}
      customer.phone: mask:last4
      orders[*].notes: drop
      accounts.*.iban: {action: encrypt, classification: restricted}

A path is dot-separated mapping keys; ``[*]`` after a segment means every
element of that list, and a ``*`` segment means every key of that mapping.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from meshsec.errors import ConfigError
from meshsec.fields._classification import Classification
from meshsec.fields._masks import canonical_mask, mask_redact, parse_mask

__all__ = ["Action", "FieldRule", "FieldSchema"]

# A segment is a key name or '*', then any number of '[*]'.
_SEGMENT: Final = re.compile(r"(?P<name>[^.\[\]*]+|\*)?(?P<each>(?:\[\*\])*)")
_ACTIONS: Final = ("encrypt", "tokenize", "tokenize:irreversible", "drop")
_RULE_KEYS: Final = frozenset({"action", "classification", "reveal_mask"})

KEY, ANY_KEY, EACH = "key", "any", "each"
Step = tuple[str, str]


class Action:
    """The action names a schema can use (``mask:<operator>`` besides these)."""

    ENCRYPT: Final = "encrypt"
    TOKENIZE: Final = "tokenize"
    TOKENIZE_IRREVERSIBLE: Final = "tokenize:irreversible"
    MASK: Final = "mask"
    DROP: Final = "drop"


@attrs.frozen(kw_only=True)
class FieldRule:
    """One schema entry. ``path`` as written is also the field the crypto binds to."""

    path: str
    steps: tuple[Step, ...] = attrs.field(repr=False)
    action: str
    mask: str | None = None
    classification: Classification = Classification.RESTRICTED
    reveal_mask: str | None = None


@attrs.frozen(kw_only=True)
class FieldSchema:
    """A validated schema; build with :meth:`parse`, :meth:`from_json`, :meth:`from_yaml`
    or :meth:`load`. Every error is a ConfigError naming the offending path."""

    rules: tuple[FieldRule, ...]

    @classmethod
    def parse(
        cls, document: Mapping[str, Any], *, masks: Mapping[str, Any] | None = None
    ) -> FieldSchema:
        """Validate a schema mapping (the ``fields:`` wrapper is optional)."""
        if not isinstance(document, Mapping):
            raise ConfigError("a field schema is a mapping of paths to actions")
        fields = _unwrap(document)
        rules = tuple(_rule(path, spec, set(masks or ())) for path, spec in fields.items())
        _check_overlaps(rules)
        return cls(rules=rules)

    @classmethod
    def from_json(cls, text: str, *, masks: Mapping[str, Any] | None = None) -> FieldSchema:
        try:
            document = json.loads(text, object_pairs_hook=_unique_pairs)
        except ValueError as exc:  # also the ConfigError of a duplicate key
            raise ConfigError(f"field schema is not valid JSON: {exc}") from None
        except RecursionError:
            raise ConfigError("field schema is not valid JSON: nested too deeply") from None
        return cls.parse(document, masks=masks)

    @classmethod
    def from_yaml(cls, text: str, *, masks: Mapping[str, Any] | None = None) -> FieldSchema:
        try:
            import yaml
        except ImportError:
            raise ConfigError("YAML schemas need PyYAML: pip install 'meshsec[yaml]'") from None
        try:
            document = yaml.load(text, Loader=_yaml_loader())  # noqa: S506  # a SafeLoader subclass
        except ConfigError as exc:
            raise ConfigError(f"field schema is not valid YAML: {exc.message}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"field schema is not valid YAML: {exc}") from None
        except RecursionError:
            raise ConfigError("field schema is not valid YAML: nested too deeply") from None
        return cls.parse(document, masks=masks)

    @classmethod
    def load(cls, path: str | Path, *, masks: Mapping[str, Any] | None = None) -> FieldSchema:
        """Read a ``.json``, ``.yaml`` or ``.yml`` schema file."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read field schema {str(file)!r}: {exc}") from None
        if file.suffix.lower() in (".yaml", ".yml"):
            return cls.from_yaml(text, masks=masks)
        return cls.from_json(text, masks=masks)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A path written twice would let the later rule silently replace the
    # earlier one (an "encrypt" quietly becoming a "mask"): refuse it.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ConfigError(f"duplicate key {key!r}")
        document[key] = value
    return document


_MERGE: Final = "tag:yaml.org,2002:merge"


@functools.cache
def _yaml_loader() -> type[Any]:
    """A SafeLoader that refuses duplicate mapping keys, built on first use."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        # Keys written in this mapping must be unique; keys pulled in by a
        # '<<' merge may be overridden, as YAML intends.
        keys = [loader.construct_object(k, deep=True) for k, _ in node.value if k.tag != _MERGE]
        for key in keys:
            if keys.count(key) > 1:
                raise ConfigError(f"duplicate key {key!r}")
        return loader.construct_mapping(node, deep=True)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return UniqueKeyLoader


def parse_path(path: object) -> tuple[Step, ...]:
    """Steps of a schema path; ConfigError naming the path if it is malformed."""
    if not isinstance(path, str) or not path:
        raise ConfigError(f"field path {path!r} must be a non-empty string")
    steps: list[Step] = []
    for segment in path.split("."):
        match = _SEGMENT.fullmatch(segment)
        if not segment or match is None or (not match["name"] and not match["each"]):
            raise ConfigError(f"field path {path!r} has a malformed segment {segment!r}")
        if match["name"] == "*":
            steps.append((ANY_KEY, "*"))
        elif match["name"]:
            steps.append((KEY, match["name"]))
        steps.extend((EACH, "[*]") for _ in range(match["each"].count("[*]")))
    return tuple(steps)


def _unwrap(document: Mapping[str, Any]) -> Mapping[str, Any]:
    if "fields" in document and isinstance(document["fields"], list):
        document = {**document, "fields": _rule_list(document["fields"])}
    if "fields" in document and isinstance(document["fields"], Mapping):
        extra = set(document) - {"fields", "version"}
        if extra:
            raise ConfigError(f"field schema has unknown top-level keys {sorted(extra)}")
        version = document.get("version", 1)
        if type(version) is not int or version != 1:  # not True, not 1.0
            raise ConfigError("field schema version must be 1")
        fields: Mapping[str, Any] = document["fields"]
        return fields
    return document


def _rule_list(entries: list[Any]) -> dict[str, Any]:
    """``fields: [{path: a.b, action: encrypt, ...}, ...]`` as the mapping form."""
    fields: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
            raise ConfigError("each entry of a 'fields' list is a mapping with a 'path'")
        path = entry["path"]
        if path in fields:
            raise ConfigError(f"duplicate key {path!r}")  # as for a mapping written twice
        fields[path] = {k: v for k, v in entry.items() if k != "path"}
    return fields


def _rule(path: str, spec: object, custom: set[str]) -> FieldRule:
    steps = parse_path(path)
    if isinstance(spec, str):
        spec = {"action": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"field {path!r}: a rule is an action string or a mapping")
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"field {path!r}: unknown rule keys {sorted(unknown)}")
    action, mask = _action(path, spec.get("action"), custom)
    reveal_mask = spec.get("reveal_mask")
    if isinstance(reveal_mask, str) and reveal_mask not in custom:
        reveal_mask = canonical_mask(reveal_mask)
    _check_reveal_mask(path, action, reveal_mask, custom)
    if action == Action.ENCRYPT and reveal_mask is None:
        reveal_mask = "redact"
    try:
        level = Classification.parse(spec.get("classification", "restricted"))
    except ConfigError as exc:
        raise ConfigError(f"field {path!r}: {exc.message}") from None
    return FieldRule(
        path=path,
        steps=steps,
        action=action,
        mask=mask,
        classification=level,
        reveal_mask=reveal_mask,
    )


def _action(path: str, action: object, custom: set[str]) -> tuple[str, str | None]:
    if action in ("tokenize:hmac", "tokenize_irreversible"):
        action = Action.TOKENIZE_IRREVERSIBLE
    elif action in ("tokenize:reversible", "tokenize:siv"):
        action = Action.TOKENIZE
    if action in _ACTIONS:
        return str(action), None
    if isinstance(action, str) and action.startswith("mask:"):
        operator = action[len("mask:") :]
        if operator not in custom:
            # One spelling per operator, so reveal knows which masks to re-apply.
            operator = canonical_mask(operator)
        _check_operator(path, operator, custom)
        return Action.MASK, operator
    raise ConfigError(
        f"field {path!r}: unknown action {action!r}; use encrypt, tokenize, "
        "tokenize:irreversible, mask:<operator> or drop"
    )


def _check_reveal_mask(path: str, action: str, reveal_mask: object, custom: set[str]) -> None:
    if reveal_mask is None:
        return
    if action not in (Action.ENCRYPT, Action.TOKENIZE):
        raise ConfigError(f"field {path!r}: reveal_mask applies to encrypt and tokenize only")
    if not isinstance(reveal_mask, str):
        raise ConfigError(f"field {path!r}: reveal_mask must be a mask operator name")
    _check_operator(path, reveal_mask, custom)


def _check_operator(path: str, operator: str, custom: set[str]) -> None:
    try:
        parse_mask(operator, custom=dict.fromkeys(custom, mask_redact), hash_key=lambda: b"\0" * 32)
    except ConfigError as exc:
        raise ConfigError(f"field {path!r}: {exc.message}") from None


def _check_overlaps(rules: tuple[FieldRule, ...]) -> None:
    # Two rules that can reach the same value (or one inside the other) would
    # protect it twice in an order nobody chose: refuse the schema instead.
    for i, first in enumerate(rules):
        for second in rules[i + 1 :]:
            if _may_overlap(first.steps, second.steps):
                raise ConfigError(
                    f"field paths {first.path!r} and {second.path!r} overlap; "
                    "give each value exactly one rule"
                )


def _may_overlap(a: tuple[Step, ...], b: tuple[Step, ...]) -> bool:
    for (kind_a, name_a), (kind_b, name_b) in zip(a, b, strict=False):
        if (kind_a == EACH) != (kind_b == EACH):
            return False
        if kind_a == KEY and kind_b == KEY and name_a != name_b:
            return False
    return True
