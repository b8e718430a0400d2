"""Field-level protection for JSON-like records.

Keyrings of versioned data keys wrapped by a key-encryption key
(:class:`Keyring`, :class:`KeyProvider`, :class:`LocalKeyProvider`);
AES-256-GCM-SIV envelopes bound to field and record (:class:`FieldCipher`);
deterministic tokens for equality search (:class:`Tokenizer`); masking
operators; classification-driven reveal (:class:`FieldProtector`); and DLP
scanning (:func:`scan`, :func:`redact`, :class:`DlpLogFilter`).

Errors::

    FieldError (meshsec.errors)
    +-- DecryptionError      one error for every failure to open an envelope or token
    +-- KeyUsageExceededError     the primary key reached its usage bound: rotate
    +-- KeyringError         keyring operation or wrapped keyring invalid
    +-- UnsupportedValueError     a value that cannot round-trip (names the field path)
    +-- KeyringError
        +-- KeyringRequiredError  FieldProtector(schema) without keyring= for a schema
                                  that encrypts, tokenizes or keyed-hashes
"""

from meshsec.fields._cipher import ENVELOPE_PREFIX, FieldCipher, is_envelope
from meshsec.fields._classification import Classification
from meshsec.fields._detectors import FindingKind
from meshsec.fields._dlp import DlpLogFilter, Finding, redact, redact_text, scan
from meshsec.fields._errors import (
    DecryptionError,
    KeyringError,
    KeyringRequiredError,
    KeyUsageExceededError,
    UnsupportedValueError,
)
from meshsec.fields._keyring import DEFAULT_USAGE_LIMIT, KeyInfo, Keyring
from meshsec.fields._masks import (
    MASK_CHAR,
    Masker,
    mask_email,
    mask_fixed,
    mask_keep_first,
    mask_keep_last,
    mask_keyed_hash,
    mask_null,
    mask_redact,
    parse_mask,
)
from meshsec.fields._protector import FieldProtector
from meshsec.fields._provider import KeyProvider, LocalKeyProvider, WrappedKey
from meshsec.fields._schema import Action, FieldRule, FieldSchema
from meshsec.fields._tokenizer import Tokenizer

__all__ = [
    "DEFAULT_USAGE_LIMIT",
    "ENVELOPE_PREFIX",
    "MASK_CHAR",
    "Action",
    "Classification",
    "DecryptionError",
    "DlpLogFilter",
    "FieldCipher",
    "FieldProtector",
    "FieldRule",
    "FieldSchema",
    "Finding",
    "FindingKind",
    "KeyInfo",
    "KeyProvider",
    "KeyUsageExceededError",
    "Keyring",
    "KeyringError",
    "KeyringRequiredError",
    "LocalKeyProvider",
    "Masker",
    "Tokenizer",
    "UnsupportedValueError",
    "WrappedKey",
    "is_envelope",
    "mask_email",
    "mask_fixed",
    "mask_keep_first",
    "mask_keep_last",
    "mask_keyed_hash",
    "mask_null",
    "mask_redact",
    "parse_mask",
    "redact",
    "redact_text",
    "scan",
]
