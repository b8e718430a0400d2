"""Field encryption: AES-256-GCM-SIV envelopes bound to field and record context.

Envelope text (every character is base64url or '.', so it needs no quoting
in JSON, SQL, URLs or CSV)::

    ms1.<key id>.<nonce, 12 bytes>.<ciphertext and 16-byte tag>

The associated data binds the format version, the key id, the field path and
the canonical record context, so an envelope copied to another field, another
record or relabelled with another key id fails to decrypt.

Why AES-GCM-SIV (RFC 8452): with random 96-bit nonces plain AES-GCM loses
confidentiality *and* authenticity if a nonce ever repeats (a broken RNG, a
forked process, a VM snapshot); GCM-SIV only reveals that two equal
plaintexts were encrypted under the same nonce. Each data key also carries a
usage bound (:data:`DEFAULT_USAGE_LIMIT`) that forces rotation long before
the birthday bound of random nonces matters.
"""

from __future__ import annotations

import secrets
from typing import Final, NoReturn

from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from meshsec.fields._b64 import b64d, b64e
from meshsec.fields._codec import (
    JsonValue,
    RecordContext,
    canonical_context,
    check_field,
    decode_value,
    encode_value,
)
from meshsec.fields._errors import DecryptionError
from meshsec.fields._keyring import Keyring, _DataKey

__all__ = ["ENVELOPE_PREFIX", "FieldCipher", "is_envelope"]

ENVELOPE_PREFIX: Final = "ms1"
_NONCE: Final = 12
_NONCE_TEXT: Final = 16  # base64 characters of a 12-byte nonce, no padding
_TAG: Final = 16
_PURPOSE: Final = "aead-gcm-siv"


def is_envelope(value: object) -> bool:
    """True when ``value`` has the shape of a meshsec envelope (not that it decrypts)."""
    return isinstance(value, str) and value.startswith("ms1.") and value.count(".") == 3


class FieldCipher:
    """Encrypts single field values into envelopes with a :class:`Keyring`.

    >>> cipher = FieldCipher(Keyring.generate("orders"))
    >>> box = cipher.encrypt(4111, field="card.cvv", context={"tenant": "acme"})
    >>> cipher.decrypt(box, field="card.cvv", context={"tenant": "acme"})
    4111
    """

    __slots__ = ("_keyring", "_prefixes")

    def __init__(self, keyring: Keyring) -> None:
        if not isinstance(keyring, Keyring):
            raise TypeError("FieldCipher needs a meshsec.fields.Keyring")
        self._keyring = keyring
        self._prefixes: dict[tuple[str, str], bytes] = {}

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def encrypt(self, value: object, *, field: str, context: RecordContext) -> str:
        """Encrypt a JSON value under the primary key; return the envelope string.

        Raises UnsupportedValueError for values that are not JSON types, and
        KeyUsageExceededError when the primary key reached its usage bound.
        """
        check_field(field)  # before _seal counts a use of the key
        return self._seal(value, field, canonical_context(context))

    def _seal(self, value: object, field: str, context_bytes: bytes) -> str:
        plaintext = encode_value(value, field=field)
        key = self._keyring._use_primary()
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead(key).encrypt(
            nonce, plaintext, self._aad(key.key_id, field) + context_bytes
        )
        # 12 bytes are exactly 16 base64 characters, so one encoding of
        # nonce + sealed splits into the two parts (one call instead of two).
        body = b64e(nonce + sealed)
        return f"ms1.{key.key_id}.{body[:_NONCE_TEXT]}.{body[_NONCE_TEXT:]}"

    def decrypt(self, envelope: object, *, field: str, context: RecordContext) -> JsonValue:
        """Open an envelope written for this ``field`` and ``context``.

        Raises DecryptionError (one error, one message) for every failure.
        """
        return self._open(envelope, field, canonical_context(context))

    def _open(self, envelope: object, field: str, context_bytes: bytes) -> JsonValue:
        parts = envelope.split(".") if isinstance(envelope, str) else ()
        if len(parts) != 4 or parts[0] != ENVELOPE_PREFIX:
            raise DecryptionError(field)
        # Select the key by the envelope's id only; never try every key, since
        # AES-GCM(-SIV) does not commit to a key (partitioning oracles).
        key = self._keyring._get(parts[1])
        if key is None:
            raise DecryptionError(field)
        if len(parts[2]) != _NONCE_TEXT:
            raise DecryptionError(field)
        try:
            # The nonce text has no partial group, so decoding both parts in
            # one call is as strict as decoding each on its own.
            raw = b64d(parts[2] + parts[3])
        except ValueError:
            raise DecryptionError(field) from None
        nonce, sealed = raw[:_NONCE], raw[_NONCE:]
        if len(sealed) <= _TAG:
            raise DecryptionError(field)
        try:
            plain = self._aead(key).decrypt(
                nonce, sealed, self._aad(key.key_id, field) + context_bytes
            )
            return decode_value(plain)
        except Exception:  # noqa: BLE001  # InvalidTag, ValueError, UnicodeError: one answer for all
            raise DecryptionError(field) from None

    def _aad(self, key_id: str, field: str) -> bytes:
        slot = (key_id, field)
        prefix = self._prefixes.get(slot)
        if prefix is None:
            check_field(field)
            if len(self._prefixes) >= 4096:
                self._prefixes.clear()  # bound memory when callers invent fields
            prefix = self._prefixes[slot] = _aad_prefix(key_id, field)
        return prefix

    def _aead(self, key: _DataKey) -> AESGCMSIV:
        return self._keyring._derived(key, _PURPOSE, "", AESGCMSIV)

    def __repr__(self) -> str:
        return f"FieldCipher(keyring={self._keyring!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("FieldCipher holds data keys and cannot be pickled")


def _aad_prefix(key_id: str, field: str) -> bytes:
    # Length-prefix the field path so no (field, context) pair can be shifted
    # into another; the context is canonical JSON and closes the string.
    field_bytes = field.encode("utf-8", "surrogatepass")
    return b"".join(
        (
            b"ms1\x00",
            key_id.encode("ascii"),
            b"\x00",
            len(field_bytes).to_bytes(4, "big"),
            field_bytes,
        )
    )
