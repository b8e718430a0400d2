"""Binding a ContextVar for a ``with`` block, shared by correlation and context.

``correlation.scope`` and ``context.run_as`` are objects a caller may build
once and enter from many threads or asyncio tasks, and a generator may be
entered in one execution context and closed in another. So the reset tokens
cannot live on the object: each execution context keeps its own stack of
(owner, token, extra) entries, and an exit that finds no entry of its owner
on top binds nothing back, because what it bound lives elsewhere.
"""

from __future__ import annotations

import contextvars
from typing import Generic, TypeVar

_T = TypeVar("_T")


class ScopedBinding(Generic[_T]):
    """Set ``var`` on enter and restore it on exit, per execution context."""

    __slots__ = ("_default", "_stack", "_var")

    def __init__(self, var: contextvars.ContextVar[_T], *, default: _T) -> None:
        self._var = var
        self._default = default
        self._stack: contextvars.ContextVar[
            tuple[tuple[object, contextvars.Token[_T], object], ...]
        ] = contextvars.ContextVar(f"{var.name}_bindings", default=())

    def push(self, owner: object, value: _T, extra: object = None) -> None:
        """Bind ``value`` for ``owner``; ``extra`` comes back from :meth:`pop`."""
        token = self._var.set(value)
        self._stack.set((*self._stack.get(), (owner, token, extra)))

    def pop(self, owner: object) -> tuple[bool, object]:
        """Undo ``owner``'s binding here; returns (whether it was bound here, extra)."""
        stack = self._stack.get()
        if not stack or stack[-1][0] is not owner:
            return False, None
        _, token, extra = stack[-1]
        self._stack.set(stack[:-1])
        try:
            self._var.reset(token)
        except ValueError:  # a token from a copied context: restore its value by hand
            previous = token.old_value
            self._var.set(self._default if previous is contextvars.Token.MISSING else previous)
        return True, extra
