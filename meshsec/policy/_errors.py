"""Policy errors.

::

    PolicyError
    +-- PolicyConfigError (also ConfigError, ValueError)   policy.invalid
    +-- PolicyBundleError                                   policy.bad_bundle
    +-- PathNormalizationError (also ValueError)            policy.bad_path
    +-- AccessDenied                                        policy.denied
"""

from __future__ import annotations

from meshsec.errors import ConfigError, PolicyError


class PolicyConfigError(PolicyError, ConfigError):
    """A policy document or policy setting is invalid.

    It is both a :class:`PolicyError` (the policy area) and a
    :class:`ConfigError` (a configuration document was wrong), so callers
    catching either see it. The message names the rule id and the field.
    """

    code = "policy.invalid"


class PolicyBundleError(PolicyError):
    """A signed policy bundle is malformed, unsigned, tampered or not trusted."""

    code = "policy.bad_bundle"


class PathNormalizationError(PolicyError, ValueError):
    """An HTTP path is ambiguous or hostile (encoded separators, NUL, climbing above root)."""

    code = "policy.bad_path"


class AccessDenied(PolicyError):  # noqa: N818  the name the issue and callers rely on
    """The policy denied the call.

    Carries only the ``decision_id`` (look it up in the audit trail), never
    the rules or attributes that led to the denial.
    """

    code = "policy.denied"

    def __init__(self, decision_id: str | None = None, message: str = "") -> None:
        self.decision_id = decision_id
        text = message or "access denied"
        if decision_id is not None:
            text = f"{text} (decision {decision_id})"
        super().__init__(text)
