"""Enforcement points: ``@enforce``, ``check`` and ``@require_scopes``.

The subject always comes from :func:`meshsec.context.current_security_context`,
the identity the integrations verified for this request; callers cannot
pass one in, so a decorated function cannot be talked into deciding for
someone else.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ParamSpec, Protocol, TypeVar, runtime_checkable

from meshsec.context import current_security_context, run_as
from meshsec.policy import _audit
from meshsec.policy._decision import Decision
from meshsec.policy._errors import AccessDenied, PolicyConfigError
from meshsec.policy._request import ResourceLike, Subject, SubjectLike

_P = ParamSpec("_P")
_R = TypeVar("_R")


@runtime_checkable
class Authorizer(Protocol):
    """Anything that decides a request: :class:`Engine`, Cedar, OPA."""

    def decide(
        self,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision: ...


_current: contextvars.ContextVar[Authorizer | None] = contextvars.ContextVar(
    "meshsec_policy_authorizer", default=None
)


@contextlib.contextmanager
def use_authorizer(authorizer: Authorizer) -> Iterator[Authorizer]:
    """Make ``authorizer`` the one that ``enforce``/``check`` use without ``engine=``."""
    token = _current.set(authorizer)
    try:
        yield authorizer
    finally:
        _current.reset(token)


def _resolve(engine: Authorizer | None) -> Authorizer:
    found = engine if engine is not None else _current.get()
    if found is None:
        raise PolicyConfigError(
            "no authorizer: pass engine= or run inside meshsec.policy.use_authorizer(...)"
        )
    return found


def check(
    action: str,
    resource: ResourceLike = None,
    context: Mapping[str, Any] | None = None,
    *,
    engine: Authorizer | None = None,
) -> Decision:
    """Decide for the current caller; return the Decision if allowed, else raise AccessDenied.

    The functional form of :func:`enforce`: ``check("read", "doc:1")`` or
    ``check("read", resource="doc:1", context={...}, engine=engine)``.
    """
    decision = _resolve(engine).decide(
        Subject.from_context(current_security_context()), action, resource, context
    )
    if not decision.allowed:
        raise AccessDenied(decision.decision_id)
    return decision


ResourceSpec = ResourceLike | Callable[..., ResourceLike]
ContextSpec = Mapping[str, Any] | Callable[..., Mapping[str, Any] | None] | None


def enforce(
    action: str,
    *,
    resource: ResourceSpec = None,
    context: ContextSpec = None,
    engine: Authorizer | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a sync or async function so that it runs only when the policy allows.

    ``resource`` and ``context`` are values or callables that receive the
    function's own arguments. A denial raises :class:`AccessDenied` before
    the function runs. While it runs, the decision's obligations are in
    ``current_security_context().obligations``.
    """

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        def authorize(args: Any, kwargs: Any) -> Any:
            res = resource(*args, **kwargs) if callable(resource) else resource
            ctx = context(*args, **kwargs) if callable(context) else context
            decision = check(action, resource=res, context=ctx, engine=engine)
            caller = current_security_context()
            return run_as(caller.evolve(obligations=decision.obligations))

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with authorize(args, kwargs):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with authorize(args, kwargs):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def require_scopes(
    *scopes: str | Iterable[str],
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a sync or async function to run only if the caller holds every scope.

    Scopes are given as arguments (``require_scopes("a", "b")``) or as one
    list (``require_scopes(["a", "b"])``).
    """
    names = _flatten(scopes)
    if not names or not all(isinstance(s, str) and s for s in names):
        raise PolicyConfigError("require_scopes needs one or more scope names")
    needed: frozenset[str] = frozenset(names)

    def verify(action: str) -> None:
        caller = current_security_context()
        if needed <= caller.scopes:
            return
        decision_id = secrets.token_hex(8)
        _audit.authorization(
            allowed=False,
            action=action,
            actor=caller.principal or caller.peer_id,
            target="scopes:" + " ".join(sorted(needed)),
            attributes={
                "decision_id": decision_id,
                "rule_id": None,
                "policy_version": None,
                "effect": "deny",
                "missing_scopes": " ".join(sorted(needed - caller.scopes)),
            },
        )
        raise AccessDenied(decision_id, "missing required scopes")

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        name = getattr(fn, "__qualname__", "call")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                verify(name)
                return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            verify(name)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def _flatten(scopes: tuple[str | Iterable[str], ...]) -> tuple[Any, ...]:
    # One list argument is the list of scopes, not one scope named by a list.
    if len(scopes) == 1 and isinstance(scopes[0], list | tuple | set | frozenset):
        return tuple(scopes[0])
    return scopes
