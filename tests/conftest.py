"""Suite-wide settings: hypothesis profiles tuned for a small shared machine."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from meshsec.context import _security
from meshsec.correlation import _context

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _fresh_request_state() -> Iterator[None]:
    """Each test starts outside any request: no bound correlation, anonymous caller.

    ``correlation.current()`` outside a scope binds a root context to the
    running thread on purpose; without this reset one test's binding would
    leak into the next through the main thread.
    """
    correlation_token = _context._current.set(None)
    caller_token = _security._current.set(_security._ANONYMOUS)
    yield
    _security._current.reset(caller_token)
    _context._current.reset(correlation_token)
