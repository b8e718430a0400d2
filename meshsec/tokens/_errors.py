"""Token errors: one class per failure, each with a stable ``code``.

::

    TokenError (meshsec.errors)              token.error
    +-- TokenTooLarge                        token.too_large
    +-- MalformedToken                       token.malformed
    +-- AlgorithmNotAllowed                  token.algorithm_not_allowed
    +-- ForbiddenHeader                      token.forbidden_header
    +-- UnknownCritical                      token.unknown_crit
    +-- WrongTokenType                       token.wrong_type
    +-- UnknownKey                           token.unknown_key
    +-- BadSignature                         token.bad_signature
    +-- MissingClaim                         token.missing_claim
    +-- WrongIssuer                          token.wrong_issuer
    +-- WrongAudience                        token.wrong_audience
    +-- TokenExpired                         token.expired
    +-- TokenNotYetValid                     token.not_yet_valid
    +-- InsufficientScope                    token.insufficient_scope
    +-- BindingMismatch                      token.binding_mismatch
    +-- TokenRevoked                         token.revoked
    +-- TokenReplayed                        token.replayed
    +-- ScopeEscalation                      token.scope_escalation
    +-- JWKSUnavailable                      token.jwks_unavailable
    +-- InvalidKey (also ValueError)         token.invalid_key

Claim-level reasons (expired, wrong audience) are for the calling code and the
audit trail; a service should answer its remote peer with a plain 401.
"""

# ruff: noqa: N818  meshsec names errors by the condition (TokenExpired), as STYLE.md shows
from __future__ import annotations

from meshsec.errors import TokenError

__all__ = [
    "AlgorithmNotAllowed",
    "BadSignature",
    "BindingMismatch",
    "ForbiddenHeader",
    "InsufficientScope",
    "InvalidKey",
    "JWKSUnavailable",
    "MalformedToken",
    "MissingClaim",
    "ScopeEscalation",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenReplayed",
    "TokenRevoked",
    "TokenTooLarge",
    "UnknownCritical",
    "UnknownKey",
    "WrongAudience",
    "WrongIssuer",
    "WrongTokenType",
]


class TokenTooLarge(TokenError):
    """The token is longer than the verifier's max_token_bytes; it was not parsed."""

    code = "token.too_large"


class MalformedToken(TokenError):
    """The token is not a well-formed compact JWS/JWT."""

    code = "token.malformed"


class AlgorithmNotAllowed(TokenError):
    """The header names an algorithm other than the one pinned to the selected key."""

    code = "token.algorithm_not_allowed"


class ForbiddenHeader(TokenError):
    """The header carries a key-injection parameter (jwk, jku, x5u, x5c); it is never followed."""

    code = "token.forbidden_header"


class UnknownCritical(TokenError):
    """The header lists a critical extension (crit) that meshsec does not implement."""

    code = "token.unknown_crit"


class WrongTokenType(TokenError):
    """The header typ is not the one expected (at+jwt for access tokens)."""

    code = "token.wrong_type"


class UnknownKey(TokenError):
    """No trusted key has the kid the token names."""

    code = "token.unknown_key"


class BadSignature(TokenError):
    """The token signature is invalid."""

    code = "token.bad_signature"


class MissingClaim(TokenError):
    """A required claim is absent or has the wrong type."""

    code = "token.missing_claim"


class WrongIssuer(TokenError):
    """The iss claim is not the expected issuer."""

    code = "token.wrong_issuer"


class WrongAudience(TokenError):
    """The aud claim does not contain this verifier's audience."""

    code = "token.wrong_audience"


class TokenExpired(TokenError):
    """The token has expired (exp plus the allowed leeway has passed)."""

    code = "token.expired"


class TokenNotYetValid(TokenError):
    """The token is not valid yet (nbf or iat lies beyond the allowed leeway)."""

    code = "token.not_yet_valid"


class InsufficientScope(TokenError):
    """The token lacks a required scope."""

    code = "token.insufficient_scope"


class BindingMismatch(TokenError):
    """The token is bound to a client certificate that was not presented (RFC 8705)."""

    code = "token.binding_mismatch"


class TokenRevoked(TokenError):
    """The token's jti has been revoked."""

    code = "token.revoked"


class TokenReplayed(TokenError):
    """A one-time token was presented a second time."""

    code = "token.replayed"


class ScopeEscalation(TokenError):
    """A token exchange asked for scopes the subject token does not carry."""

    code = "token.scope_escalation"


class JWKSUnavailable(TokenError):
    """The remote JWKS could not be fetched or parsed and no usable cached copy exists."""

    code = "token.jwks_unavailable"


class InvalidKey(TokenError, ValueError):
    """Key material is unusable: weak, of the wrong type, or not valid for its algorithm."""

    code = "token.invalid_key"
