"""Signed policy bundles: a policy document with a detached JWS by a trusted key.

Format (JSON)::

    {"format": "meshsec-policy-bundle/1",
     "policy": "<canonical policy document, as a JSON string>",
     "signature": "<header>..<signature>"}

The signature (RFC 7515 Appendix F, ``typ`` ``meshsec-policy+jws``) covers
the exact UTF-8 bytes of ``policy`` and is checked before the policy text is
parsed; the algorithm comes from the trusted key, never from the bundle.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from meshsec.errors import TokenError
from meshsec.policy._errors import PolicyBundleError, PolicyConfigError
from meshsec.policy._model import MAX_DOCUMENT_BYTES, PolicySet, parse_json

if TYPE_CHECKING:
    from meshsec.tokens import KeySet, SigningKey

BUNDLE_FORMAT = "meshsec-policy-bundle/1"


def sign_bundle(policy: PolicySet, key: SigningKey) -> bytes:
    """Serialize ``policy`` as a bundle signed by ``key`` (a private SigningKey)."""
    try:
        signature = key.sign_detached(policy.canonical)
    except TokenError as exc:
        raise PolicyBundleError(f"cannot sign the policy bundle [{exc.code}]") from None
    bundle = {
        "format": BUNDLE_FORMAT,
        "policy": policy.canonical.decode("utf-8"),
        "signature": signature,
    }
    return json.dumps(bundle, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def bundle_from_bytes(data: bytes, keys: KeySet) -> PolicySet:
    """Verify a bundle against ``keys``; raise PolicyBundleError unless signed and valid."""
    from meshsec.tokens import KeySet

    if not isinstance(keys, KeySet):
        # A lone public key (or None) here would otherwise be an AttributeError.
        raise PolicyConfigError("policy bundle keys must be a meshsec.tokens.KeySet")
    if len(data) > 2 * MAX_DOCUMENT_BYTES:
        raise PolicyBundleError("policy bundle is too large")
    try:
        outer: Any = parse_json(data)
    except PolicyConfigError:
        raise PolicyBundleError("policy bundle is not valid JSON") from None
    if not isinstance(outer, dict) or set(outer) != {"format", "policy", "signature"}:
        raise PolicyBundleError(
            "not a signed policy bundle (need exactly format, policy and signature)"
        )
    if outer["format"] != BUNDLE_FORMAT:
        raise PolicyBundleError(f"policy bundle format must be {BUNDLE_FORMAT!r}")
    policy_text, signature = outer["policy"], outer["signature"]
    if not isinstance(policy_text, str) or not isinstance(signature, str):
        raise PolicyBundleError("policy bundle policy and signature must be strings")
    payload = policy_text.encode("utf-8")
    try:
        keys.verify_detached(signature, payload)
    except TokenError:
        # One message for every signature failure (no oracle); the code of
        # the underlying check goes to the audit trail via the KeySet.
        raise PolicyBundleError(
            "policy bundle signature is missing, invalid or untrusted"
        ) from None
    return PolicySet.from_json(payload)
