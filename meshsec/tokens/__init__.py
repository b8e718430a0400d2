"""Tokens: key sets and JWKS, issuer and verifier, refresh tokens, revocation."""

from meshsec.tokens._revocation import RevocationList

__all__ = [
    "RevocationList",
]
