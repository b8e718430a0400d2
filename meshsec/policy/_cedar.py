"""Cedar behind the :class:`Authorizer` protocol (extra ``meshsec[cedar]``, on cedarpy).

The request maps as: principal -> ``<principal_type>::"<principal>"`` whose
parents are ``<role_type>::"<r>"`` for each ``r`` in the ``roles_claim``
claim and whose attributes are the remaining JSON-safe claims; action ->
``Action::"<action>"``; resource -> ``<type>::"<id>"`` (HTTP paths
normalized first) with the resource attributes; context -> the Cedar context
record. Policies and static entities are parsed once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from meshsec.policy._decision import Decision
from meshsec.policy._errors import PolicyConfigError
from meshsec.policy._external import ExternalDecisions
from meshsec.policy._paths import normalize_path
from meshsec.policy._request import ResourceLike, SubjectLike, thaw, to_resource, to_subject

_ENTITY_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*")


def _cedarpy() -> Any:
    try:
        import cedarpy
    except ImportError:
        raise PolicyConfigError(
            "CedarAuthorizer needs cedarpy: install the extra 'meshsec[cedar]'"
        ) from None
    return cedarpy


class CedarAuthorizer:
    """Decide with Cedar policies; same request shape and Decision as :class:`Engine`."""

    def __init__(
        self,
        policies: str,
        *,
        entities: Sequence[Mapping[str, Any]] = (),
        principal_type: str = "User",
        role_type: str = "Role",
        roles_claim: str = "roles",
    ) -> None:
        cedarpy = _cedarpy()
        for name in (principal_type, role_type):
            if not _ENTITY_TYPE.fullmatch(name):
                raise PolicyConfigError(f"CedarAuthorizer: {name!r} is not a Cedar entity type")
        self._cedarpy = cedarpy
        try:
            self._policies = cedarpy.PolicySet.from_str(policies)
            self._entities = cedarpy.Entities.from_json_str(json.dumps(list(entities)))
        except Exception as exc:  # noqa: BLE001  cedarpy raises plain exceptions on parse errors
            raise PolicyConfigError(f"CedarAuthorizer: cannot parse Cedar input: {exc}") from None
        self._principal_type, self._role_type, self._roles_claim = (
            principal_type,
            role_type,
            roles_claim,
        )
        self.policy_version = hashlib.sha256(policies.encode("utf-8")).hexdigest()
        self._decisions = ExternalDecisions("cedar", self.policy_version)

    @classmethod
    def from_files(
        cls,
        policy_files: Sequence[str | Path] | str | Path,
        *,
        entities_file: str | Path | None = None,
        **options: Any,
    ) -> CedarAuthorizer:
        """Read Cedar policies (``.cedar`` files, concatenated) and an entities JSON file.

        ``policy_files`` is one path or a list of paths.
        """
        if isinstance(policy_files, str | Path):
            # A lone str is a Sequence too: never read it as one file per character.
            policy_files = [policy_files]
        try:
            text = "\n".join(Path(p).read_text(encoding="utf-8") for p in policy_files)
            entities = json.loads(Path(entities_file).read_text("utf-8")) if entities_file else []
        except (OSError, ValueError) as exc:
            raise PolicyConfigError(f"CedarAuthorizer: cannot read input: {exc}") from None
        return cls(text, entities=entities, **options)

    def __repr__(self) -> str:
        return f"CedarAuthorizer(policy_version={self.policy_version[:12]!r})"

    def decide(
        self,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide one request with Cedar; any mapping or engine error denies."""
        try:
            request, entities = self._request(subject, action, resource, context)
            result = self._cedarpy.is_authorized(request, self._policies, entities)
            allowed = bool(result.allowed)
            matched = sorted(result.diagnostics.reasons)
            errors = list(result.diagnostics.errors)
        except Exception as exc:  # noqa: BLE001  fail closed on any mapping or engine error
            allowed, matched, errors = False, [], [f"request refused: {type(exc).__name__}"]
        return self._decisions.record(
            allowed=allowed,
            rule_id=matched[0] if matched else None,
            reasons=(f"cedar policies: {', '.join(matched) or 'none'}", *errors[:5]),
            subject=subject,
            action=action,
            resource=resource,
        )

    def _request(
        self,
        subject: SubjectLike,
        action: str,
        resource: ResourceLike,
        context: Mapping[str, Any] | None,
    ) -> tuple[dict[str, Any], Any]:
        subj, res = to_subject(subject), to_resource(resource)
        rid = normalize_path(res.id) if res.type == "http" else res.id
        rtype = res.type or "Resource"
        if not _ENTITY_TYPE.fullmatch(rtype):
            raise PolicyConfigError("resource type is not a Cedar entity type")
        claims = thaw(subj.claims)
        roles = claims.pop(self._roles_claim, [])
        if isinstance(roles, str) or not isinstance(roles, list | tuple):
            roles = []
        principal = {"type": self._principal_type, "id": subj.principal or ""}
        resource_uid = {"type": rtype, "id": rid}
        delta = [
            {
                "uid": principal,
                "attrs": _json_safe(claims),
                "parents": [{"type": self._role_type, "id": str(r)} for r in roles],
            },
            {"uid": resource_uid, "attrs": _json_safe(thaw(res.attributes)), "parents": []},
        ]
        entities = self._entities.with_added_json_str(json.dumps(delta))
        request = {
            "principal": principal,
            "action": {"type": "Action", "id": action},
            "resource": resource_uid,
            "context": thaw(context or {}),
        }
        return request, entities


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Keep attributes Cedar can represent (strings, integers, booleans, lists, records)."""

    def ok(value: Any) -> bool:
        if isinstance(value, str | bool | int):
            return True
        if isinstance(value, list | tuple):
            return all(ok(v) for v in value)
        if isinstance(value, Mapping):
            return all(isinstance(k, str) and ok(v) for k, v in value.items())
        return False

    return {k: v for k, v in values.items() if ok(v)}
