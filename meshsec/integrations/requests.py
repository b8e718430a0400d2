"""A ``requests.Session`` that speaks mutual TLS with SPIFFE identities.

::

    from meshsec.integrations.requests import mtls_session
    from meshsec.mtls import allow_id

    session = mtls_session(source, expect=allow_id("spiffe://example.org/ns/prod/sa/orders"))
    session.get("https://orders.internal:8443/v1/orders")

The session presents the source's identity, trusts only its bundle, checks
the server's SPIFFE ID before any request byte is written, resumes TLS
sessions across connections and uses rotated identities for new connections.
"""

from meshsec.integrations._requests import mtls_session

__all__ = ["mtls_session"]
