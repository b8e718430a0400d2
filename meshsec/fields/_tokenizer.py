"""Deterministic tokens for equality search and joins.

Reversible tokens are AES-SIV (RFC 5297) ciphertexts; irreversible tokens
are HMAC-SHA256 tags. Both use a subkey derived per field with HKDF, so the
same value in two fields gives unrelated tokens::

    mt1.<key id>.<AES-SIV output>     reversible
    mh1.<key id>.<HMAC-SHA256 tag>    irreversible

What a deterministic token leaks, by design: equal values in the same field
under the same key version give equal tokens, so anyone who sees the tokens
learns which rows share a value, how often each value occurs (frequency
analysis against a known distribution re-identifies common values), and,
for reversible tokens, the value's length (ciphertext length = plaintext
length + 16). It does not leak the value, order, or equality across fields.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from typing import Final, Literal, NoReturn

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from meshsec.errors import ConfigError, FieldError
from meshsec.fields._b64 import b64d, b64e
from meshsec.fields._codec import JsonValue, check_field, decode_value, encode_value
from meshsec.fields._errors import DecryptionError
from meshsec.fields._keyring import Keyring, _DataKey

__all__ = ["Tokenizer"]

_SIV_PREFIX: Final = "mt1"
_HMAC_PREFIX: Final = "mh1"


class _Unset(enum.Enum):
    UNSET = enum.auto()  # reversible= not passed (an explicit None is refused)


class Tokenizer:
    """Deterministic, per-field tokens from a :class:`Keyring`.

    ``reversible=True`` (AES-SIV) allows :meth:`detokenize` by a holder of
    the keyring; ``reversible=False`` (HMAC-SHA256) gives tokens that only
    support equality. :meth:`search_tokens` gives the token under every
    retained key version, so lookups keep working across rotation.
    """

    __slots__ = ("_keyring", "_reversible")

    def __init__(
        self,
        keyring: Keyring,
        *,
        reversible: bool | Literal[_Unset.UNSET] = _Unset.UNSET,
        mode: str | None = None,
    ) -> None:
        """``Tokenizer(keyring)`` is reversible (AES-SIV). Choose the mode with
        ``reversible=False`` or, by name, ``mode="irreversible"`` (HMAC-SHA256);
        ConfigError for anything else or for the two disagreeing."""
        if not isinstance(keyring, Keyring):
            raise TypeError("Tokenizer needs a meshsec.fields.Keyring")
        self._keyring, self._reversible = keyring, _choose_mode(reversible, mode)

    @property
    def reversible(self) -> bool:
        return self._reversible

    def tokenize(self, value: object, *, field: str) -> str:
        """The token of a JSON value in ``field`` under the primary key."""
        check_field(field)
        plaintext = encode_value(value, field=field)
        return self._token(self._keyring._get_primary(), plaintext, field)

    def search_tokens(self, value: object, *, field: str) -> list[str]:
        """The token under every retained key version, primary first.

        Use ``WHERE token IN (...)``: rows written before and after a
        rotation are all found.
        """
        check_field(field)
        plaintext = encode_value(value, field=field)
        return [self._token(key, plaintext, field) for key in self._keyring._ordered()]

    def detokenize(self, token: object, *, field: str) -> JsonValue:
        """The value behind a reversible token of ``field``; DecryptionError on any failure."""
        check_field(field)
        if not self._reversible:
            raise FieldError("irreversible (HMAC) tokens cannot be detokenized")
        parts = token.split(".") if isinstance(token, str) else ()
        if len(parts) != 3 or parts[0] != _SIV_PREFIX:
            raise DecryptionError(field)
        key = self._keyring._get(parts[1])
        if key is None:
            raise DecryptionError(field)
        try:
            plain = self._siv(key, field).decrypt(b64d(parts[2]), [_aad(key.key_id, field)])
            return decode_value(plain)
        except Exception:  # noqa: BLE001  # InvalidTag, ValueError, UnicodeError: one answer for all
            raise DecryptionError(field) from None

    def is_token(self, value: object) -> bool:
        """True when ``value`` has this tokenizer's token shape (not that it is valid)."""
        prefix = _SIV_PREFIX if self._reversible else _HMAC_PREFIX
        return isinstance(value, str) and value.startswith(prefix + ".") and value.count(".") == 2

    def _token(self, key: _DataKey, plaintext: bytes, field: str) -> str:
        if self._reversible:
            sealed = self._siv(key, field).encrypt(plaintext, [_aad(key.key_id, field)])
            return f"{_SIV_PREFIX}.{key.key_id}.{b64e(sealed)}"
        mac_key = self._keyring._derived(key, "token-hmac", field, bytes)
        tag = hmac.new(mac_key, plaintext, hashlib.sha256).digest()
        return f"{_HMAC_PREFIX}.{key.key_id}.{b64e(tag)}"

    def _siv(self, key: _DataKey, field: str) -> AESSIV:
        return self._keyring._derived(key, "token-siv", field, AESSIV, size=64)

    def __repr__(self) -> str:
        return f"Tokenizer(keyring={self._keyring!r}, reversible={self._reversible})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("Tokenizer holds data keys and cannot be pickled")


_MODES: Final = {"reversible": True, "irreversible": False}


def _choose_mode(reversible: object, mode: object) -> bool:
    if reversible is not _Unset.UNSET and type(reversible) is not bool:
        # bool("false") is True: a string from configuration must not pick the mode.
        raise ConfigError("reversible must be True or False")
    if mode is not None and (not isinstance(mode, str) or mode not in _MODES):
        raise ConfigError("mode must be 'reversible' (AES-SIV) or 'irreversible' (HMAC-SHA256)")
    by_name = None if mode is None else _MODES[mode]
    if reversible is _Unset.UNSET:
        return True if by_name is None else by_name
    if by_name is not None and reversible is not by_name:
        raise ConfigError("reversible= and mode= name different tokenizer modes")
    return reversible is True


def _aad(key_id: str, field: str) -> bytes:
    return b"mt1\x00" + key_id.encode("ascii") + b"\x00" + field.encode("utf-8", "surrogatepass")
