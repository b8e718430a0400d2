"""The integrations reuse the mTLS fixtures (CAs, sources, captured audit events)."""

from tests.mtls.conftest import (  # noqa: F401  fixtures are found by name
    ca,
    client_source,
    events,
    other_ca,
    server_source,
)
