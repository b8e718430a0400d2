"""Schema-driven protection and clearance-driven reveal of whole records."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from meshsec import audit
from meshsec.audit import Category, Outcome
from meshsec.errors import ConfigError, FieldError, MeshsecError
from meshsec.fields import _audit
from meshsec.fields._cipher import FieldCipher
from meshsec.fields._classification import Classification
from meshsec.fields._codec import RecordContext, canonical_context, check_json
from meshsec.fields._errors import DecryptionError, KeyringRequiredError, UnsupportedValueError
from meshsec.fields._keyring import Keyring
from meshsec.fields._masks import Masker, parse_mask
from meshsec.fields._schema import ANY_KEY, EACH, KEY, Action, FieldRule, FieldSchema, Step
from meshsec.fields._tokenizer import Tokenizer

__all__ = ["FieldProtector"]

_MAX_DEPTH: Final = 200
# Shapes of stored irreversible values: an HMAC-SHA256 token and a keyed-hash mask.
_HMAC_TOKEN: Final = re.compile(r"mh1\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{43}")
_KEYED_HASH: Final = re.compile(r"hmac:[A-Za-z0-9_-]{11,43}")
_IDEMPOTENT: Final = re.compile(r"(?:first|last):?\d{1,3}|fixed:.*", re.DOTALL)

Slot = tuple[Any, Any]  # (container, key or index) holding one matched value


class FieldProtector:
    """Applies a :class:`FieldSchema` to JSON-like records.

    :meth:`protect` encrypts, tokenizes, masks and drops; :meth:`reveal`
    gives a caller the clear value of every field classified at or below
    their clearance and a masked view of the rest; :meth:`rotate` moves
    envelopes and reversible tokens to the primary key. None of them mutates
    its input; on any error the input is untouched and nothing partial is
    returned. Paths missing from a record are skipped, never created.
    """

    def __init__(
        self,
        schema: FieldSchema | Mapping[str, Any] | str | os.PathLike[str],
        keyring: Keyring | None = None,
        *,
        masks: Mapping[str, Masker] | None = None,
    ) -> None:
        """``schema`` is a :class:`FieldSchema`, a mapping, JSON or YAML text, or
        a path to a ``.json``/``.yaml`` file. ``keyring`` may be left out only
        when no rule encrypts, tokenizes or uses ``mask:hash``; otherwise
        KeyringRequiredError names the first such path."""
        custom = dict(masks or {})
        if not all(callable(fn) for fn in custom.values()):
            raise ConfigError("custom masks must be callables taking a value")
        schema = _load_schema(schema, custom)
        self._keyless = keyring is None
        if keyring is None:
            _require_no_keys(schema, custom)
            keyring = _unused_keyring()
        elif not isinstance(keyring, Keyring):
            raise TypeError("FieldProtector keyring= must be a meshsec.fields.Keyring")
        self._schema = schema
        self._keyring = keyring
        self._cipher = FieldCipher(keyring)
        self._siv = Tokenizer(keyring, reversible=True)
        self._hmac = Tokenizer(keyring, reversible=False)
        self._maskers = {rule.path: self._compile(rule, custom) for rule in schema.rules}
        self._hashed = frozenset(
            rule.path
            for rule in schema.rules
            if rule.action == Action.MASK and rule.mask == "hash" and "hash" not in custom
        )
        self._remask = frozenset(
            rule.path
            for rule in schema.rules
            if rule.action == Action.MASK and rule.mask not in custom and _remaskable(rule.mask)
        )

    @property
    def schema(self) -> FieldSchema:
        return self._schema

    # -- public operations -----------------------------------------------------

    def protect(self, record: Any, *, context: RecordContext) -> Any:
        """A protected copy of ``record``; raises UnsupportedValueError naming the path."""
        context_bytes = canonical_context(context)
        out = _copy(record)
        for rule in self._schema.rules:
            slots = list(_slots(out, rule.steps))
            if rule.action == Action.DROP:
                _drop(slots)
                continue
            for container, key in slots:
                container[key] = self._protect_one(rule, container[key], context_bytes)
        return out

    def reveal(
        self,
        record: Any,
        *,
        context: RecordContext,
        clearance: Classification | str,
    ) -> Any:
        """A copy with fields at or below ``clearance`` in clear and the rest masked.

        Emits one ``data_access`` audit event listing the field paths and
        classifications (never values). Raises DecryptionError if any
        envelope or token fails.
        """
        shown: list[FieldRule] = []
        hidden: list[FieldRule] = []
        level: Classification | None = None
        try:
            level = Classification.parse(clearance)
            context_bytes = canonical_context(context)
            out = _copy(record)
            for rule in self._schema.rules:
                slots = list(_slots(out, rule.steps))
                if slots:
                    (shown if rule.classification <= level else hidden).append(rule)
                cleared = rule.classification <= level
                self._reveal_rule(rule, slots, context_bytes, cleared=cleared)
        except MeshsecError as exc:
            _reveal_event(Outcome.FAILURE, level, shown, hidden, reason=exc.code)
            raise
        _reveal_event(Outcome.SUCCESS, level, shown, hidden)
        return out

    def rotate(self, record: Any, *, context: RecordContext) -> Any:
        """A copy whose envelopes and reversible tokens all use the primary key."""
        context_bytes = canonical_context(context)
        out = _copy(record)
        primary = self._keyring.primary_id
        for rule in self._schema.rules:
            if rule.action not in (Action.ENCRYPT, Action.TOKENIZE):
                continue
            for container, key in _slots(out, rule.steps):
                value = container[key]
                if _key_id(value) == primary:
                    continue
                clear = self._open(rule, value, context_bytes)
                container[key] = self._protect_one(rule, clear, context_bytes)
        return out

    def search_tokens(self, value: object, *, field: str) -> list[str]:
        """Tokens of ``value`` for the tokenized schema path ``field``, every key version."""
        rule = next((r for r in self._schema.rules if r.path == field), None)
        if rule is None or rule.action not in (Action.TOKENIZE, Action.TOKENIZE_IRREVERSIBLE):
            raise FieldError(f"schema path {field!r} is not tokenized")
        tokenizer = self._siv if rule.action == Action.TOKENIZE else self._hmac
        return tokenizer.search_tokens(value, field=field)

    # -- one value -----------------------------------------------------------

    def _protect_one(self, rule: FieldRule, value: Any, context: bytes) -> Any:
        if rule.action == Action.ENCRYPT:
            return self._cipher._seal(value, rule.path, context)
        if rule.action == Action.TOKENIZE:
            return self._siv.tokenize(value, field=rule.path)
        if rule.action == Action.TOKENIZE_IRREVERSIBLE:
            return self._hmac.tokenize(value, field=rule.path)
        # Masks see JSON values only: the text of bytes, a set or NaN is
        # not a value the record can hold, and part of it would be shown.
        check_json(value, field=rule.path)
        return self._maskers[rule.path](value)

    def _open(self, rule: FieldRule, value: Any, context: bytes) -> Any:
        if rule.action == Action.ENCRYPT:
            return self._cipher._open(value, rule.path, context)
        return self._siv.detokenize(value, field=rule.path)

    def _reveal_rule(
        self, rule: FieldRule, slots: list[Slot], context: bytes, *, cleared: bool
    ) -> None:
        if rule.action == Action.DROP:
            _drop(slots)  # a dropped field found in storage never leaves through reveal
            return
        if rule.path in self._remask:
            # Masks are idempotent, so masking again costs nothing for a
            # protected record and stops clear text planted in storage.
            for container, key in slots:
                check_json(container[key], field=rule.path)
                container[key] = self._maskers[rule.path](container[key])
            return
        if rule.action not in (Action.ENCRYPT, Action.TOKENIZE):
            self._reveal_stored(rule, slots)
            return
        if rule.action == Action.TOKENIZE and not cleared and rule.reveal_mask is None:
            for container, key in slots:
                # Opened only to prove it is a token of this field: text planted
                # in a token's shape ("mt1.x.<card number>") must not be shown.
                self._siv.detokenize(container[key], field=rule.path)
            return  # the token itself is the masked view
        for container, key in slots:
            clear = self._open(rule, container[key], context)
            container[key] = clear if cleared else self._maskers[rule.path](clear)

    def _reveal_stored(self, rule: FieldRule, slots: list[Slot]) -> None:
        """HMAC tokens and keyed hashes are shown as stored, but only when they
        have that shape: clear text planted in such a column never leaves.
        Custom masks are shown as stored."""
        for container, key in slots:
            text = container[key] if isinstance(container[key], str) else ""
            if rule.action == Action.TOKENIZE_IRREVERSIBLE and not _HMAC_TOKEN.fullmatch(text):
                raise DecryptionError(rule.path)
            if rule.path in self._hashed and not _KEYED_HASH.fullmatch(text):
                container[key] = self._maskers[rule.path](container[key])

    def _compile(self, rule: FieldRule, custom: Mapping[str, Masker]) -> Masker:
        spec = rule.mask if rule.action == Action.MASK else rule.reveal_mask
        if spec is None:
            return _identity
        if spec in custom:
            return _guarded(spec, custom[spec], rule.path)
        return parse_mask(spec, hash_key=self._hash_key(rule.path))

    def _hash_key(self, path: str) -> Callable[[], bytes]:
        def key() -> bytes:
            primary = self._keyring._get_primary()
            return self._keyring._derived(primary, "mask-hmac", path, bytes)

        return key

    def __repr__(self) -> str:
        keyring = "None" if self._keyless else repr(self._keyring)
        return f"FieldProtector(rules={len(self._schema.rules)}, keyring={keyring})"


def _load_schema(
    schema: FieldSchema | Mapping[str, Any] | str | os.PathLike[str], custom: Mapping[str, Masker]
) -> FieldSchema:
    if isinstance(schema, FieldSchema):
        return schema
    if isinstance(schema, os.PathLike):
        return FieldSchema.load(os.fspath(schema), masks=custom)
    if isinstance(schema, str):
        if schema.lstrip().startswith("{"):
            return FieldSchema.from_json(schema, masks=custom)
        return FieldSchema.from_yaml(schema, masks=custom)
    return FieldSchema.parse(schema, masks=custom)


def _unused_keyring() -> Keyring:
    # A schema of masks and drops never touches a key; a fresh keyring keeps
    # every code path typed without a None check and is never written out.
    return Keyring.generate("unused")


def _require_no_keys(schema: FieldSchema, custom: Mapping[str, Masker]) -> None:
    for rule in schema.rules:
        keyed = rule.action in (Action.ENCRYPT, Action.TOKENIZE, Action.TOKENIZE_IRREVERSIBLE)
        if keyed or (rule.action == Action.MASK and rule.mask == "hash" and "hash" not in custom):
            action = f"mask:{rule.mask}" if rule.action == Action.MASK else rule.action
            raise KeyringRequiredError(
                f"schema path {rule.path!r} uses {action!r}, which needs keys: pass "
                "FieldProtector(schema, keyring=Keyring.generate(name)) or a keyring "
                "loaded with Keyring.from_wrapped(document, provider)"
            )


def _remaskable(spec: str | None) -> bool:
    return spec in ("redact", "null", "email") or bool(spec and _IDEMPOTENT.fullmatch(spec))


def _guarded(name: str, mask: Masker, path: str) -> Masker:
    """A custom mask whose failures become a FieldError that shows no value."""

    def guarded(value: object) -> object:
        try:
            return mask(value)
        except Exception:  # noqa: BLE001  # any failure of user code; its message may quote the value
            raise FieldError(f"custom mask {name!r} failed on field {path!r}") from None

    return guarded


def _identity(value: object) -> object:
    return value


def _copy(value: Any, depth: int = 0) -> Any:
    """A deep copy of the JSON containers; leaves are shared (they are immutable).

    A record that refers to itself would recurse forever: the depth bound
    turns it (and absurd nesting) into a typed error, not a RecursionError.
    """
    kind = type(value)
    if kind is str or kind is int:
        return value
    if depth > _MAX_DEPTH:
        raise UnsupportedValueError(
            f"record nests deeper than {_MAX_DEPTH} levels or contains itself (a cycle)"
        )
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        return {k: _copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v, depth + 1) for v in value]
    return value


def _slots(root: Any, steps: tuple[Step, ...]) -> Iterator[Slot]:
    if _plain(steps):
        return _plain_slot(root, steps)
    frontier: list[Slot] = [([root], 0)]
    for kind, name in steps:
        nxt: list[Slot] = []
        for container, key in frontier:
            node = container[key]
            if kind == KEY:
                if isinstance(node, dict) and name in node:
                    nxt.append((node, name))
            elif kind == ANY_KEY:
                if isinstance(node, dict):
                    nxt.extend((node, k) for k in node)
            elif kind == EACH and isinstance(node, list):
                nxt.extend((node, i) for i in range(len(node)))
        frontier = nxt
    return iter(frontier)


@functools.cache
def _plain(steps: tuple[Step, ...]) -> bool:
    return all(kind == KEY for kind, _ in steps)


def _plain_slot(root: Any, steps: tuple[Step, ...]) -> Iterator[Slot]:
    # The common case, a path of plain keys: no frontier lists to build.
    container, key = None, None
    node = root
    for _, name in steps:
        if not isinstance(node, dict) or name not in node:
            return iter(())
        container, key, node = node, name, node[name]
    return iter(((container, key),))


def _drop(slots: list[Slot]) -> None:
    # Delete list elements from the highest index down so indices stay valid.
    for container, key in sorted(
        slots, key=lambda s: s[1] if isinstance(s[1], int) else 0, reverse=True
    ):
        del container[key]


def _key_id(value: object) -> str | None:
    if isinstance(value, str) and value.count(".") in (2, 3):
        return value.split(".", 2)[1]
    return None


def _reveal_event(
    outcome: Outcome,
    level: Classification | None,
    shown: list[FieldRule],
    hidden: list[FieldRule],
    *,
    reason: str | None = None,
) -> None:
    if not audit.enabled():
        return  # build no attribute strings nobody will read

    def listing(rules: list[FieldRule]) -> str:
        return ",".join(f"{r.path}={r.classification.name.lower()}" for r in rules)

    _audit.record(
        Category.DATA_ACCESS,
        "fields.reveal",
        outcome,
        reason=reason,
        attributes={
            "clearance": "invalid" if level is None else level.name.lower(),
            "revealed_fields": listing(shown),
            "masked_fields": listing(hidden),
            "revealed_count": len(shown),
            "masked_count": len(hidden),
        },
    )
