"""Fixtures for the mTLS tests: CAs, identities and sources on the real clock."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from meshsec.identity import CertificateAuthority, StaticIdentitySource

TD = "example.org"
SERVER = "spiffe://example.org/ns/prod/sa/server"
CLIENT = "spiffe://example.org/ns/prod/sa/client"


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create(TD)


@pytest.fixture(scope="session")
def other_ca() -> CertificateAuthority:
    """A second CA of the same trust domain that nobody trusts."""
    return CertificateAuthority.create(TD)


@pytest.fixture
def server_source(ca: CertificateAuthority) -> StaticIdentitySource:
    return StaticIdentitySource(ca.issue(SERVER, dns_names=["localhost"]), ca.bundle)


@pytest.fixture
def client_source(ca: CertificateAuthority) -> StaticIdentitySource:
    return StaticIdentitySource(ca.issue(CLIENT), ca.bundle)


@pytest.fixture
def events() -> Iterator[list[Any]]:
    """Audit events emitted during the test (skips until meshsec.audit exists)."""
    try:
        audit = importlib.import_module("meshsec.audit")
    except ImportError:
        pytest.skip("meshsec.audit has not landed on this branch yet")
    with audit.capture() as captured:
        yield captured
