"""Audit errors.

::

    MeshsecError
    +-- AuditError                 audit.error
    |   +-- AuditChainError        audit.chain_broken
    |   +-- AuditFileError         audit.file_error
    +-- ConfigError (ValueError)
        +-- AuditKeyError          audit.bad_key
        +-- AuditEventError        audit.invalid_event
"""

from __future__ import annotations

from meshsec.errors import ConfigError, MeshsecError


class AuditError(MeshsecError):
    """An audit trail could not be written or checked."""

    code = "audit.error"


class AuditChainError(AuditError):
    """A hash-chained audit file does not verify (edited, reordered, cut or keyed differently)."""

    code = "audit.chain_broken"


class AuditFileError(AuditError):
    """An audit file could not be opened, read or written."""

    code = "audit.file_error"


class AuditKeyError(ConfigError):
    """The audit key is missing, too short, of the wrong type, or not the one the chain needs."""

    code = "audit.bad_key"


class AuditEventError(ConfigError):
    """A security event was built from an invalid value (naive timestamp, unknown category)."""

    code = "audit.invalid_event"
