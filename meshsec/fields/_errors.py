"""Errors of field protection, below :class:`meshsec.errors.FieldError`.

::

    FieldError
    +-- DecryptionError      one error for every failure to open an envelope or token
    +-- KeyUsageExceededError     the primary data key reached its usage bound: rotate
    +-- KeyringError         a keyring operation or a wrapped keyring is invalid
    +-- UnsupportedValueError     a value cannot be protected (names the field path)
    +-- KeyringError
        +-- KeyringRequiredError  a schema needs a keyring and none was passed
                                  (also a ConfigError and a TypeError)
"""

from __future__ import annotations

from meshsec.errors import ConfigError, FieldError

__all__ = [
    "DecryptionError",
    "KeyUsageExceededError",
    "KeyringError",
    "KeyringRequiredError",
    "UnsupportedValueError",
]

# One message for every cause (wrong or unknown key id, retired key, tampered,
# truncated, extended or swapped envelope): distinct messages would be an
# oracle (STYLE.md habit 13, Fernet's InvalidToken).
DECRYPTION_FAILED = (
    "cannot decrypt: the envelope or token is malformed or was tampered with, belongs to "
    "another field or record context, or its data key is unknown or retired"
)


class DecryptionError(FieldError):
    """An envelope or token could not be opened. Deliberately says no more."""

    code = "field.decryption_failed"

    def __init__(self, field: str | None = None) -> None:
        where = f" (field {field!r})" if field is not None else ""
        super().__init__(DECRYPTION_FAILED + where)
        self.field = field


class KeyUsageExceededError(FieldError):
    """The primary data key encrypted as many values as its bound allows."""

    code = "field.key_usage_exceeded"


class KeyringError(FieldError):
    """A keyring operation or a wrapped keyring document is invalid."""

    code = "field.keyring_invalid"


class KeyringRequiredError(KeyringError, ConfigError, TypeError):
    """A schema encrypts, tokenizes or keyed-hashes, and no ``keyring=`` was given.

    Also a :class:`~meshsec.errors.ConfigError` (a configuration mistake) and
    a ``TypeError`` (what Python raises for a missing required argument).
    """

    code = "field.keyring_required"


class UnsupportedValueError(FieldError):
    """A value of a type that cannot round-trip (not str/int/float/bool/None/list/dict)."""

    code = "field.unsupported_value"

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        #: The field path (as the caller or the schema wrote it), when one applies.
        self.field = field

    @property
    def path(self) -> str | None:
        """Alias of :attr:`field`: the field path of the unsupported value."""
        return self.field
