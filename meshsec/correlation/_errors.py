"""Errors of meshsec.correlation.

::

    ConfigError (meshsec.errors; also ValueError)
    +-- CorrelationConfigError   code "correlation.invalid_config"
    +-- CorrelationContextError  code "correlation.invalid_context"

Hostile *headers* never raise: the W3C rules say to fail soft, so extract()
replaces or drops what it cannot accept and records why on
``CorrelationContext.rejected``. Only values a program builds itself (a
configuration, a context constructed by hand) raise these.
"""

from __future__ import annotations

from meshsec.errors import ConfigError


class CorrelationConfigError(ConfigError):
    """A correlation configuration or propagation boundary is invalid."""

    code = "correlation.invalid_config"


class CorrelationContextError(ConfigError):
    """A correlation context was built with a value that may not be propagated."""

    code = "correlation.invalid_context"
