"""Key-encryption keys: the :class:`KeyProvider` protocol and a local provider.

Envelope encryption: data keys (in a :class:`~meshsec.fields.Keyring`)
encrypt fields; a key-encryption key (KEK) held by a provider wraps the data
keys. Rotating the KEK re-wraps a few data keys and never touches stored data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, NoReturn, Protocol, runtime_checkable

import attrs
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meshsec.errors import ConfigError
from meshsec.fields._b64 import b64d, b64e
from meshsec.fields._codec import canonical_context
from meshsec.fields._errors import KeyringError
from meshsec.secret import Secret

__all__ = ["KeyProvider", "LocalKeyProvider", "WrappedKey"]

DEFAULT_ENV_VAR: Final = "MESHSEC_MASTER_KEY"
_MASTER_PREFIX: Final = "msk1:"
_NONCE: Final = 12


@attrs.frozen(kw_only=True)
class WrappedKey:
    """A data key encrypted under a KEK; ``kek_id`` says which KEK unwraps it.

    ``ciphertext`` is opaque to meshsec: a KMS ciphertext blob, a Vault
    ``vault:v3:...`` string as bytes, or the local provider's nonce + AES-GCM
    output.
    """

    kek_id: str
    ciphertext: bytes = attrs.field(repr=False)


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a key-encryption key.

    ``context`` is a small mapping of non-secret strings (keyring name, key
    id) that the provider must bind to the wrapped key, the way AWS KMS binds
    an ``EncryptionContext``, GCP KMS ``additional_authenticated_data`` and
    Vault Transit a derivation ``context``: a wrapped key unwraps only with
    the same context. ``unwrap`` selects the KEK by ``wrapped.kek_id`` and
    raises :class:`~meshsec.fields.KeyringError` on any failure.
    """

    @property
    def kek_id(self) -> str:
        """Identifier of the KEK that :meth:`wrap` uses now."""
        ...

    def wrap(self, data_key: bytes, *, context: Mapping[str, str]) -> WrappedKey:
        """Encrypt ``data_key`` under the current KEK, bound to ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        """Decrypt a wrapped data key; raise KeyringError if that is impossible."""
        ...


class LocalKeyProvider:
    """A KEK held in process memory, loaded from a file or an environment variable.

    Wraps with AES-256-GCM (random 96-bit nonce; the context is the associated
    data). The KEK id is derived from the master key itself, so a provider
    built from the new master key plus the ``previous`` ones unwraps data keys
    wrapped under any of them and wraps under the new one: that is KEK rotation.

    The master key text is ``msk1:`` followed by 32 random bytes in base64url;
    make one with :meth:`new_master_key` (or ``meshsec fields keygen``).
    """

    __slots__ = ("_current", "_keys")

    def __init__(
        self, master_key: str | Secret[str], *, previous: Iterable[str | Secret[str]] = ()
    ):
        current = _parse_master(master_key)
        self._current = _kek_id(current)
        self._keys: dict[str, Secret[bytes]] = {self._current: Secret(current)}
        for old in previous:
            raw = _parse_master(old)
            self._keys.setdefault(_kek_id(raw), Secret(raw))

    @staticmethod
    def new_master_key() -> Secret[str]:
        """Fresh master key text to store in a secret file or an environment variable."""
        return Secret(_MASTER_PREFIX + b64e(secrets.token_bytes(32)))

    @classmethod
    def generate(cls) -> LocalKeyProvider:
        """A provider with a fresh random master key (export it with :meth:`export_master_key`)."""
        return cls(cls.new_master_key())

    @classmethod
    def from_env(
        cls, name: str = DEFAULT_ENV_VAR, *, previous: Iterable[str] = ()
    ) -> LocalKeyProvider:
        """Load the master key from environment variable ``name``; ``previous`` names old ones."""
        return cls(_env(name), previous=[_env(old) for old in previous])

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, previous: Iterable[str | os.PathLike[str]] = ()
    ) -> LocalKeyProvider:
        """Load the master key from a file; ``previous`` lists old key files.

        The file holds the ``msk1:...`` text (trailing newline allowed) or
        exactly 32 raw random bytes (``head -c 32 /dev/urandom > master.key``).
        """
        return cls(_read(path), previous=[_read(old) for old in previous])

    def export_master_key(self) -> Secret[str]:
        """The current master key text, still wrapped in a :class:`Secret`."""
        return Secret(_MASTER_PREFIX + b64e(self._keys[self._current].reveal()))

    @property
    def kek_id(self) -> str:
        return self._current

    @property
    def kek_ids(self) -> tuple[str, ...]:
        """Every KEK this provider can unwrap with, current first."""
        return tuple(self._keys)

    def wrap(self, data_key: bytes, *, context: Mapping[str, str]) -> WrappedKey:
        nonce = secrets.token_bytes(_NONCE)
        aead = AESGCM(self._keys[self._current].reveal())
        sealed = aead.encrypt(nonce, data_key, _aad(self._current, context))
        return WrappedKey(kek_id=self._current, ciphertext=nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, *, context: Mapping[str, str]) -> bytes:
        key = self._keys.get(wrapped.kek_id)
        blob = wrapped.ciphertext
        if key is None or len(blob) < _NONCE + 16:
            raise KeyringError(_UNWRAP_FAILED)
        try:
            return AESGCM(key.reveal()).decrypt(
                blob[:_NONCE], blob[_NONCE:], _aad(wrapped.kek_id, context)
            )
        except Exception:  # noqa: BLE001  # InvalidTag and friends: one answer for every cause
            raise KeyringError(_UNWRAP_FAILED) from None

    def __repr__(self) -> str:
        return f"LocalKeyProvider(kek_id={self._current!r}, keks={len(self._keys)})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("LocalKeyProvider holds a master key and cannot be pickled")


_UNWRAP_FAILED = (
    "cannot unwrap a data key: wrong or unknown master key, or the wrapped keyring was altered"
)


def _aad(kek_id: str, context: Mapping[str, str]) -> bytes:
    return b"meshsec-kek-wrap/1\x00" + kek_id.encode("ascii") + b"\x00" + canonical_context(context)


def _kek_id(raw: bytes) -> str:
    # A fingerprint, not the key: HMAC under the key of a fixed label.
    digest = hmac.new(raw, b"meshsec local KEK id", hashlib.sha256).digest()
    return "local-" + b64e(digest[:9])


def _parse_master(text: str | Secret[str]) -> bytes:
    value = text.reveal() if isinstance(text, Secret) else text
    if not isinstance(value, str) or not value.strip().startswith(_MASTER_PREFIX):
        raise ConfigError("a master key is 'msk1:' followed by 32 bytes in base64url")
    try:
        raw = b64d(value.strip()[len(_MASTER_PREFIX) :])
    except ValueError:
        raise ConfigError("a master key is 'msk1:' followed by 32 bytes in base64url") from None
    if len(raw) != 32:
        raise ConfigError("a master key is 'msk1:' followed by 32 bytes in base64url")
    return raw


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} holds no master key")
    return value


def _read(path: str | os.PathLike[str]) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise ConfigError(f"cannot read master key file {os.fspath(path)!r}") from None
    if len(data) == 32 and not all(0x20 <= b < 0x7F for b in data):
        # 32 raw random bytes. A 32-character printable text is refused
        # below instead: that is a password, not a key.
        return _MASTER_PREFIX + b64e(data)
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        # No chained cause: a decode error would quote a byte of the key.
        raise ConfigError(f"cannot read master key file {os.fspath(path)!r}") from None
