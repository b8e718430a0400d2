"""Shared fixtures for the identity tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from meshsec import audit
from meshsec.clock import FrozenClock
from meshsec.identity import CertificateAuthority

TD = "example.org"
START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def ca(clock: FrozenClock) -> CertificateAuthority:
    return CertificateAuthority.create(TD, clock=clock)


@pytest.fixture
def events() -> Iterator[list[audit.SecurityEvent]]:
    """Audit events emitted during the test."""
    with audit.capture() as captured:
        yield captured
