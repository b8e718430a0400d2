"""Open Policy Agent behind the :class:`Authorizer` protocol, over its REST Data API.

``POST {url}/v1/data/{path}`` with ``{"input": ...}``; the answer must be
``{"result": true}`` to allow. Anything else (HTTP error, timeout, invalid
JSON, an undefined or non-boolean result) denies: the authorizer fails
closed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from meshsec.policy import _audit
from meshsec.policy._decision import Decision
from meshsec.policy._errors import PolicyConfigError
from meshsec.policy._external import ExternalDecisions
from meshsec.policy._paths import normalize_path
from meshsec.policy._request import ResourceLike, SubjectLike, thaw, to_resource, to_subject
from meshsec.policy._timeouts import timeout_pair

_PATH = re.compile(r"[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*")
_LOOPBACK = frozenset(("127.0.0.1", "::1", "localhost"))
_MAX_RESPONSE = 1024 * 1024


class OpaAuthorizer:
    """Ask an OPA server; ``path`` names the rule, e.g. ``"meshsec/authz/allow"``.

    ``OpaAuthorizer("http://127.0.0.1:8181", "meshsec/authz/allow")`` or,
    equally, the full Data API URL alone:
    ``OpaAuthorizer("http://127.0.0.1:8181/v1/data/meshsec/authz/allow")``.

    Plain ``http://`` is accepted only for a loopback sidecar (127.0.0.1,
    ::1, localhost) unless ``unsafe_allow_http=True``. ``timeout`` is
    (connect, read) seconds, or one number for both.
    """

    def __init__(
        self,
        url: str,
        path: str | None = None,
        *,
        timeout: float | tuple[float, float] = (1.0, 2.0),
        ca_bundle: str | None = None,
        unsafe_allow_http: bool = False,
    ) -> None:
        if path is None:
            url, path = _split_data_url(url)
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise PolicyConfigError("OpaAuthorizer url must be https://host[:port]")
        if parts.username is not None or parts.password is not None or parts.query:
            # Credentials in a URL end up in reprs and logs; use a session instead.
            raise PolicyConfigError("OpaAuthorizer url must not carry credentials or a query")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            if not unsafe_allow_http:
                raise PolicyConfigError(
                    "OpaAuthorizer over plain http is only allowed to a loopback sidecar "
                    "(or pass unsafe_allow_http=True)"
                )
            _audit.configuration(
                ok=True,
                action="policy.opa.unsafe_allow_http",
                target=url,
                reason=None,
                attributes={"unsafe_allow_http": True},
            )
        if not _PATH.fullmatch(path.strip("/")):
            raise PolicyConfigError("OpaAuthorizer path must look like 'package/rule'")
        self._endpoint = f"{url.rstrip('/')}/v1/data/{path.strip('/')}"
        self._timeout = timeout_pair(timeout, "OpaAuthorizer timeout")
        # Certificates are always verified: against ca_bundle, else the system store.
        self._verify: str | bool = ca_bundle if ca_bundle is not None else True
        self._session: Any = None
        self.policy_version = "opa:" + hashlib.sha256(self._endpoint.encode()).hexdigest()[:16]
        self._decisions = ExternalDecisions("opa", self.policy_version)

    def __repr__(self) -> str:
        return f"OpaAuthorizer(endpoint={self._endpoint!r})"

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> OpaAuthorizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decide(
        self,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Ask OPA; allowed only on ``{"result": true}``."""
        try:
            body = json.dumps({"input": opa_input(subject, action, resource, context)})
            allowed, reason = self._ask(body)
        except Exception as exc:  # noqa: BLE001  fail closed on any mapping error
            allowed, reason = False, f"request refused: {type(exc).__name__}"
        return self._decisions.record(
            allowed=allowed,
            rule_id=None,
            reasons=(reason,),
            subject=subject,
            action=action,
            resource=resource,
        )

    def _ask(self, body: str) -> tuple[bool, str]:  # noqa: PLR0911  each failure fails closed
        import requests

        if self._session is None:
            self._session = requests.Session()
        try:
            with self._session.post(
                self._endpoint,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,
                stream=True,
            ) as response:
                if response.status_code != 200:
                    return False, f"opa answered HTTP {response.status_code}: fail closed"
                raw = _read_bounded(response.raw, time.monotonic() + sum(self._timeout))
        except requests.RequestException as exc:
            return False, f"opa unreachable ({type(exc).__name__}): fail closed"
        if raw is None:
            return False, "opa answer too large or too slow: fail closed"
        try:
            answer = json.loads(raw, object_pairs_hook=_unique_keys)
        except ValueError:
            return False, "opa answer is not JSON: fail closed"
        result = answer.get("result") if isinstance(answer, dict) else None
        if result is True:
            return True, "opa result true"
        if result is False:
            return False, "opa result false"
        return False, "opa result undefined or not a boolean: fail closed"


def _split_data_url(url: str) -> tuple[str, str]:
    """``https://opa:8181/v1/data/a/b`` -> (``https://opa:8181``, ``a/b``)."""
    base, marker, path = url.partition("/v1/data/")
    if not marker or not path:
        raise PolicyConfigError(
            "OpaAuthorizer needs path= or a url ending in /v1/data/<package>/<rule>"
        )
    return base, path


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"result": false, "result": true} means whatever the last parser says;
    # an ambiguous answer is no answer.
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _read_bounded(raw: Any, deadline: float) -> bytes | None:
    """The decoded body, or None past 1 MiB or past the deadline.

    The read timeout bounds each wait for the socket, not the whole answer:
    a server sending one byte a second would otherwise hold the caller
    (and the request it guards) for as long as it likes.
    """
    chunks: list[bytes] = []
    total = 0
    while chunk := raw.read1(65536, decode_content=True):
        total += len(chunk)
        if total > _MAX_RESPONSE or time.monotonic() > deadline:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def opa_input(
    subject: SubjectLike,
    action: str,
    resource: ResourceLike,
    context: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``input`` document OPA sees (same shape as the embedded engine's roots)."""
    subj, res = to_subject(subject), to_resource(resource)
    rid = normalize_path(res.id) if res.type == "http" else res.id
    return {
        "subject": {
            "principal": subj.principal,
            "peer_id": subj.peer_id,
            "claims": thaw(subj.claims),
            "scopes": sorted(subj.scopes),
        },
        "action": action,
        "resource": {"type": res.type, "id": rid, "attributes": thaw(res.attributes)},
        "context": thaw(context or {}),
    }
