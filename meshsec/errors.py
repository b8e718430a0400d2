"""The meshsec exception hierarchy.

Every failure meshsec raises is a :class:`MeshsecError` carrying a stable,
class-level ``code`` that callers, dashboards and audit consumers can match on.
Messages say what was wrong and what to do; they never carry a secret value.

::

    MeshsecError (Exception)
    +-- IdentityError
    +-- TLSError
    +-- TokenError
    +-- FieldError
    +-- PolicyError
    +-- StoreError
    +-- ConfigError (also ValueError)

Each area package defines its specific errors below its area base and exports
them; ``code`` strings look like ``token.expired`` or ``audit.chain_broken``.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ConfigError",
    "FieldError",
    "IdentityError",
    "MeshsecError",
    "PolicyError",
    "StoreError",
    "TLSError",
    "TokenError",
]


class MeshsecError(Exception):
    """Root of every error meshsec raises.

    ``code`` is stable across releases; match on it rather than on messages.
    """

    code: ClassVar[str] = "meshsec.error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class IdentityError(MeshsecError):
    """A workload identity, SPIFFE ID or trust bundle is invalid."""

    code = "identity.error"


class TLSError(MeshsecError):
    """A TLS handshake or peer check failed."""

    code = "tls.error"


class TokenError(MeshsecError):
    """A token could not be issued or verified."""

    code = "token.error"


class FieldError(MeshsecError):
    """A field could not be protected or revealed."""

    code = "field.error"


class PolicyError(MeshsecError):
    """A policy could not be loaded, or an access decision denied the call."""

    code = "policy.error"


class StoreError(MeshsecError):
    """Shared state could not be read or written."""

    code = "store.error"


class ConfigError(MeshsecError, ValueError):
    """A configuration value or document is invalid."""

    code = "config.error"
