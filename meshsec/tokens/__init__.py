"""Tokens: key sets and JWKS, issuer and verifier, refresh tokens, revocation."""

from meshsec.errors import TokenError
from meshsec.tokens._claims import Claims
from meshsec.tokens._errors import (
    AlgorithmNotAllowed,
    BadSignature,
    BindingMismatch,
    ForbiddenHeader,
    InsufficientScope,
    InvalidKey,
    JWKSUnavailable,
    MalformedToken,
    MissingClaim,
    ScopeEscalation,
    TokenExpired,
    TokenNotYetValid,
    TokenReplayed,
    TokenRevoked,
    TokenTooLarge,
    UnknownCritical,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from meshsec.tokens._issuer import RESERVED_CLAIMS, TokenIssuer
from meshsec.tokens._jwks_client import JWKSClient
from meshsec.tokens._keys import ALGORITHMS, POLICY_JWS_TYPE, SigningKey
from meshsec.tokens._keyset import KeySet
from meshsec.tokens._refresh import (
    RefreshFamily,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
    RefreshTokens,
)
from meshsec.tokens._revocation import RevocationList
from meshsec.tokens._verifier import (
    ACCESS_TOKEN_TYPE,
    KeySource,
    TokenVerifier,
    certificate_thumbprint,
)

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "ALGORITHMS",
    "POLICY_JWS_TYPE",
    "RESERVED_CLAIMS",
    "AlgorithmNotAllowed",
    "BadSignature",
    "BindingMismatch",
    "Claims",
    "ForbiddenHeader",
    "InsufficientScope",
    "InvalidKey",
    "JWKSClient",
    "JWKSUnavailable",
    "KeySet",
    "KeySource",
    "MalformedToken",
    "MissingClaim",
    "RefreshFamily",
    "RefreshTokenExpired",
    "RefreshTokenInvalid",
    "RefreshTokenReused",
    "RefreshTokenRevoked",
    "RefreshTokens",
    "RevocationList",
    "ScopeEscalation",
    "SigningKey",
    "TokenError",
    "TokenExpired",
    "TokenIssuer",
    "TokenNotYetValid",
    "TokenReplayed",
    "TokenRevoked",
    "TokenTooLarge",
    "TokenVerifier",
    "UnknownCritical",
    "UnknownKey",
    "WrongAudience",
    "WrongIssuer",
    "WrongTokenType",
    "certificate_thumbprint",
]
