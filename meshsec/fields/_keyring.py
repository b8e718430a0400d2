"""Named, versioned AES-256 data keys: one primary, every retained version readable."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, TypeVar

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshsec.audit import Category, Outcome
from meshsec.clock import Clock, system_clock
from meshsec.fields import _audit
from meshsec.fields._b64 import b64d, b64e
from meshsec.fields._errors import KeyringError, KeyUsageExceededError
from meshsec.fields._provider import KeyProvider, WrappedKey
from meshsec.secret import Secret

__all__ = ["DEFAULT_USAGE_LIMIT", "KeyInfo", "Keyring"]

# AES-GCM-SIV with random 96-bit nonces stays far inside its bounds for many
# more messages (RFC 8452 section 9), but a bound that forces rotation keeps
# every key's exposure small and makes rotation routine. Counting is per
# Keyring object (and persisted by to_wrapped): with N processes sharing one
# keyring, the true total is up to N times the bound.
DEFAULT_USAGE_LIMIT: Final = 2**30
# The bound: rotation must be forced well before 2**32 messages.
MAX_USAGE_LIMIT: Final = 2**32
_MAX_VERSION: Final = 2**31
FORMAT: Final = "meshsec.keyring/1"
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_KEY_BYTES: Final = 32
_CACHE_LIMIT: Final = 4096

_T = TypeVar("_T")


@attrs.frozen(kw_only=True)
class KeyInfo:
    """Public facts about one data key version (never its material)."""

    key_id: str
    version: int
    created_at: float
    uses: int
    primary: bool


class _DataKey:
    __slots__ = ("created_at", "key_id", "material", "uses", "version")

    def __init__(
        self, *, key_id: str, version: int, created_at: float, material: bytes, uses: int
    ) -> None:
        self.key_id, self.version, self.created_at = key_id, version, created_at
        self.material: Secret[bytes] = Secret(material)
        self.uses = uses


class Keyring:
    """Versioned AES-256 data keys for :class:`FieldCipher` and :class:`Tokenizer`.

    The primary key encrypts and tokenizes; every retained version decrypts
    and appears in search tokens. :meth:`rotate` adds a version and makes it
    primary; :meth:`retire` forgets an old version (its envelopes then fail
    with :class:`DecryptionError`). A keyring leaves the process only wrapped
    by a :class:`KeyProvider` (:meth:`to_wrapped`). Thread-safe.

    Build one with :meth:`generate` or :meth:`from_wrapped`. ``Keyring()`` or
    ``Keyring("orders")`` is the same as :meth:`generate`; ``keys`` and
    ``primary`` are for those two constructors only.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        keys: list[_DataKey] | None = None,
        primary: str | None = None,
        usage_limit: int = DEFAULT_USAGE_LIMIT,
        clock: Clock = system_clock,
    ) -> None:
        if keys is None:
            # A fresh keyring, exactly as generate() makes one.
            _check_name(name)
            _check_limit(usage_limit)
            keys = [_new_key(name, 1, clock)]
            primary = keys[0].key_id
        if primary is None:
            raise KeyringError("a keyring built from keys needs its primary key id")
        self._name, self._usage_limit, self._clock = name, usage_limit, clock
        self._keys: dict[str, _DataKey] = {k.key_id: k for k in keys}
        self._primary = self._keys[primary]
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], object] = {}

    @classmethod
    def generate(
        cls,
        name: str = "default",
        *,
        usage_limit: int = DEFAULT_USAGE_LIMIT,
        clock: Clock = system_clock,
    ) -> Keyring:
        """A new keyring with one fresh random key, ``<name>-v1``, as primary."""
        return cls(name, usage_limit=usage_limit, clock=clock)

    # -- facts -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def primary_id(self) -> str:
        return self._primary.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Retained key ids, primary first, then newest to oldest."""
        return tuple(k.key_id for k in self._ordered())

    @property
    def usage_limit(self) -> int:
        return self._usage_limit

    def info(self) -> list[KeyInfo]:
        """Facts about every retained key, primary first."""
        return [
            KeyInfo(
                key_id=k.key_id,
                version=k.version,
                created_at=k.created_at,
                uses=k.uses,
                primary=k is self._primary,
            )
            for k in self._ordered()
        ]

    # -- lifecycle ---------------------------------------------------------

    def rotate(self) -> str:
        """Add a fresh key version and make it primary; return its id."""
        with self._lock:
            version = max(k.version for k in self._keys.values()) + 1
            key = _new_key(self._name, version, self._clock)
            self._keys[key.key_id] = key
            self._primary = key
        _audit.record(Category.KEY, "fields.key.rotate", Outcome.SUCCESS, target=key.key_id)
        return key.key_id

    def retire(self, key_id: str) -> None:
        """Forget a non-primary key version; envelopes under it no longer decrypt."""
        if not isinstance(key_id, str):
            raise KeyringError("a key id is a string such as 'orders-v1'")
        with self._lock:
            key = self._keys.get(key_id)
            if key is None:
                raise KeyringError(f"keyring {self._name!r} holds no key {key_id!r}")
            if key is self._primary:
                raise KeyringError("the primary key cannot be retired; rotate() first")
            del self._keys[key_id]
            self._cache = {k: v for k, v in self._cache.items() if k[0] != key_id}
        _audit.record(Category.KEY, "fields.key.retire", Outcome.SUCCESS, target=key_id)

    # -- use by ciphers and tokenizers (private to the package) --------------

    def _use_primary(self) -> _DataKey:
        """The primary key, counting one use; raises KeyUsageExceededError at the bound."""
        with self._lock:
            key = self._primary
            if key.uses < self._usage_limit:
                key.uses += 1
                return key
        error = KeyUsageExceededError(
            f"data key {key.key_id!r} reached its bound of {self._usage_limit} "
            "encryptions; call Keyring.rotate() and store the new wrapped keyring"
        )
        _audit.record(
            Category.KEY,
            "fields.key.use",
            Outcome.FAILURE,
            target=key.key_id,
            reason=error.code,
        )
        raise error

    def _get_primary(self) -> _DataKey:
        """The primary key without counting a use (deterministic modes need no nonce)."""
        return self._primary

    def _get(self, key_id: str) -> _DataKey | None:
        return self._keys.get(key_id)

    def _ordered(self) -> list[_DataKey]:
        rest = sorted(
            (k for k in self._keys.values() if k is not self._primary),
            key=lambda k: k.version,
            reverse=True,
        )
        return [self._primary, *rest]

    def _derived(
        self, key: _DataKey, purpose: str, field: str, build: Callable[[bytes], _T], size: int = 32
    ) -> _T:
        """A per-purpose, per-field object built on an HKDF subkey (RFC 5869), cached."""
        slot = (key.key_id, purpose, field)
        found = self._cache.get(slot)
        if found is not None:
            return found  # type: ignore[return-value]  # slot's purpose fixes the type
        # surrogatepass: a field path is any str; its bytes only need to be distinct.
        info = f"meshsec/fields/{purpose}/v1\x00{field}".encode("utf-8", "surrogatepass")
        material = HKDF(algorithm=hashes.SHA256(), length=size, salt=None, info=info).derive(
            key.material.reveal()
        )
        built = build(material)
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[slot] = built
        return built

    # -- wrapped form --------------------------------------------------------

    def to_wrapped(self, provider: KeyProvider) -> dict[str, Any]:
        """The keyring as a JSON-ready dict with every data key wrapped by ``provider``."""
        with self._lock:
            keys = self._ordered()
            doc: dict[str, Any] = {
                "format": FORMAT,
                "name": self._name,
                "primary": self._primary.key_id,
                "usage_limit": self._usage_limit,
                "keys": [_wrap_entry(self._name, k, provider) for k in keys],
            }
            doc["mac"] = b64e(_doc_mac(self._primary, doc))
        return doc

    def to_wrapped_json(self, provider: KeyProvider) -> str:
        """:meth:`to_wrapped` as a JSON string."""
        return json.dumps(self.to_wrapped(provider), sort_keys=True)

    @classmethod
    def from_wrapped(
        cls, data: Mapping[str, Any] | str, provider: KeyProvider, *, clock: Clock = system_clock
    ) -> Keyring:
        """Load a wrapped keyring; raises KeyringError if it is malformed, altered or
        cannot be unwrapped by ``provider``."""
        doc = _load_doc(data)
        name = doc["name"]
        keys = [_unwrap_entry(name, entry, provider) for entry in doc["keys"]]
        by_id = {k.key_id: k for k in keys}
        if len(by_id) != len(keys) or doc["primary"] not in by_id:
            raise KeyringError("wrapped keyring lists duplicate keys or no primary key")
        try:
            body = {k: v for k, v in doc.items() if k != "mac"}
            expected = _doc_mac(by_id[doc["primary"]], body)
        except (TypeError, ValueError, RecursionError):
            # Members json cannot encode (sets, huge ints, odd mappings): not our document.
            raise KeyringError("wrapped keyring holds values that are not JSON") from None
        if not hmac.compare_digest(expected, _b64_field(doc, "mac")):
            raise KeyringError("wrapped keyring was altered (its MAC does not verify)")
        return cls(
            name=name,
            keys=keys,
            primary=doc["primary"],
            usage_limit=doc["usage_limit"],
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"Keyring(name={self._name!r}, primary={self.primary_id!r}, keys={len(self._keys)})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Keyring holds data keys; serialize it with to_wrapped(provider)")


def _new_key(name: str, version: int, clock: Clock) -> _DataKey:
    return _DataKey(
        key_id=f"{name}-v{version}",
        version=version,
        created_at=float(clock()),
        material=secrets.token_bytes(_KEY_BYTES),
        uses=0,
    )


def _check_name(name: object) -> None:
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise KeyringError("a keyring name is 1-32 letters, digits, '_' or '-', starting alnum")


def _check_limit(limit: object) -> None:
    if type(limit) is not int or not 1 <= limit <= MAX_USAGE_LIMIT:
        raise KeyringError("usage_limit must be a positive int no larger than 2**32")


def _wrap_context(name: str, key_id: str) -> dict[str, str]:
    return {"keyring": name, "key_id": key_id}


def _wrap_entry(name: str, key: _DataKey, provider: KeyProvider) -> dict[str, Any]:
    wrapped = provider.wrap(key.material.reveal(), context=_wrap_context(name, key.key_id))
    return {
        "id": key.key_id,
        "version": key.version,
        "created_at": key.created_at,
        "uses": key.uses,
        "kek_id": wrapped.kek_id,
        "wrapped": b64e(wrapped.ciphertext),
    }


def _unwrap_entry(name: str, entry: Any, provider: KeyProvider) -> _DataKey:
    if not isinstance(entry, Mapping):
        raise KeyringError("wrapped keyring key entries must be objects")
    version = entry.get("version")
    uses = entry.get("uses")
    created: Any = entry.get("created_at")
    kek_id = entry.get("kek_id")
    if (
        type(version) is not int
        or not 1 <= version <= _MAX_VERSION
        or entry.get("id") != f"{name}-v{version}"
        or type(uses) is not int
        or uses < 0
        or type(created) not in (int, float)
        or not abs(created) < 1e15  # also refuses NaN, inf and ints float() cannot hold
        or not isinstance(kek_id, str)
    ):
        raise KeyringError("wrapped keyring holds a malformed key entry")
    blob = WrappedKey(kek_id=kek_id, ciphertext=_b64_field(entry, "wrapped"))
    key_id = f"{name}-v{version}"
    material = provider.unwrap(blob, context=_wrap_context(name, key_id))
    if len(material) != _KEY_BYTES:
        raise KeyringError("wrapped keyring holds a data key of the wrong size")
    return _DataKey(
        key_id=key_id,
        version=version,
        created_at=float(created),
        material=material,
        uses=uses,
    )


def _load_doc(data: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays
            raise KeyringError("wrapped keyring is not valid JSON") from None
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise KeyringError(f"wrapped keyring must be an object with format {FORMAT!r}")
    _check_name(data.get("name"))
    _check_limit(data.get("usage_limit"))
    if not isinstance(data.get("keys"), list) or not data["keys"]:
        raise KeyringError("wrapped keyring lists no keys")
    if not isinstance(data.get("primary"), str):
        raise KeyringError("wrapped keyring names no primary key")
    return data


def _b64_field(entry: Mapping[str, Any], name: str) -> bytes:
    value = entry.get(name)
    if not isinstance(value, str):
        raise KeyringError(f"wrapped keyring field {name!r} is not base64url")
    try:
        return b64d(value)
    except ValueError:
        raise KeyringError(f"wrapped keyring field {name!r} is not base64url") from None


def _doc_mac(primary: _DataKey, doc: Mapping[str, Any]) -> bytes:
    # The metadata (primary choice, usage counts, limit) is authenticated with
    # a subkey of the primary data key, so it cannot be rolled back piecemeal
    # by someone who can edit the stored document but holds no key.
    mac_key = hmac.new(primary.material.reveal(), b"meshsec keyring mac/1", hashlib.sha256)
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(mac_key.digest(), body, hashlib.sha256).digest()
