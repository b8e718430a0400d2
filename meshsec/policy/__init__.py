"""Policy: decisions made by rules that live outside the code.

A :class:`PolicySet` is a validated document of allow and deny rules; the
:class:`Engine` decides requests against it (default deny, deny overrides,
order-independent) with an index and a safe decision cache; enforcement
points (:func:`enforce`, :func:`check`, :func:`require_scopes`) apply it to
Python functions using the caller from :mod:`meshsec.context`;
:class:`PolicyStore` reloads it while the service runs; the
:class:`CedarAuthorizer` and :class:`OpaAuthorizer` put external engines
behind the same :class:`Authorizer` protocol. See ``docs/policy.md``.

Errors::

    PolicyError
    +-- PolicyConfigError (also ConfigError, ValueError)   policy.invalid
    +-- PolicyBundleError                                   policy.bad_bundle
    +-- PathNormalizationError (also ValueError)            policy.bad_path
    +-- AccessDenied                                        policy.denied
"""

from meshsec.policy._cedar import CedarAuthorizer
from meshsec.policy._decision import Decision, Explanation, RuleTrace
from meshsec.policy._enforce import Authorizer, check, enforce, require_scopes, use_authorizer
from meshsec.policy._engine import Engine
from meshsec.policy._errors import (
    AccessDenied,
    PathNormalizationError,
    PolicyBundleError,
    PolicyConfigError,
)
from meshsec.policy._model import Condition, PolicySet, Rule
from meshsec.policy._opa import OpaAuthorizer
from meshsec.policy._paths import normalize_path
from meshsec.policy._request import Resource, Subject
from meshsec.policy._store import PolicyStore

__all__ = [
    "AccessDenied",
    "Authorizer",
    "CedarAuthorizer",
    "Condition",
    "Decision",
    "Engine",
    "Explanation",
    "OpaAuthorizer",
    "PathNormalizationError",
    "PolicyBundleError",
    "PolicyConfigError",
    "PolicySet",
    "PolicyStore",
    "Resource",
    "Rule",
    "RuleTrace",
    "Subject",
    "check",
    "enforce",
    "normalize_path",
    "require_scopes",
    "use_authorizer",
]
