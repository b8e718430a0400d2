"""Thin adapters from meshsec's framework-agnostic cores to HTTP libraries.

``meshsec.integrations.requests`` gives a ``requests.Session`` that speaks
mutual TLS with SPIFFE identities. Nothing here is imported by the
primitives, and nothing is configured at import time.
"""

__all__: list[str] = []
