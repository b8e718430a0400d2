"""Map meshsec security events onto OCSF event classes.

OCSF (Open Cybersecurity Schema Framework) classes used, with their category:

- Authentication, ``class_uid`` 3002, Identity & Access Management (3)
- Entity Management, ``class_uid`` 3004, Identity & Access Management (3)
- API Activity, ``class_uid`` 6003, Application Activity (6)

``type_uid = class_uid * 100 + activity_id`` (OCSF base event). The full table
is in docs/audit.md; keep the two in step.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

OCSF_VERSION: Final = "1.3.0"
OTHER: Final = 99


@attrs.frozen(kw_only=True)
class OcsfClass:
    class_uid: int
    class_name: str
    category_uid: int
    category_name: str
    activities: Mapping[int, str]


_IAM_UID, _IAM_NAME = 3, "Identity & Access Management"

AUTHENTICATION: Final = OcsfClass(
    class_uid=3002,
    class_name="Authentication",
    category_uid=_IAM_UID,
    category_name=_IAM_NAME,
    activities=MappingProxyType(
        {
            1: "Logon",
            2: "Logoff",
            3: "Authentication Ticket",
            4: "Service Ticket Request",
            5: "Service Ticket Renew",
            6: "Preauth",
            OTHER: "Other",
        }
    ),
)
ENTITY_MANAGEMENT: Final = OcsfClass(
    class_uid=3004,
    class_name="Entity Management",
    category_uid=_IAM_UID,
    category_name=_IAM_NAME,
    activities=MappingProxyType(
        {
            1: "Create",
            2: "Read",
            3: "Update",
            4: "Delete",
            8: "Enable",
            9: "Disable",
            10: "Activate",
            11: "Deactivate",
            OTHER: "Other",
        }
    ),
)
API_ACTIVITY: Final = OcsfClass(
    class_uid=6003,
    class_name="API Activity",
    category_uid=6,
    category_name="Application Activity",
    activities=MappingProxyType({1: "Create", 2: "Read", 3: "Update", 4: "Delete", OTHER: "Other"}),
)

_CRUD = {
    "create": 1,
    "post": 1,
    "read": 2,
    "get": 2,
    "head": 2,
    "list": 2,
    "query": 2,
    "update": 3,
    "put": 3,
    "patch": 3,
    "delete": 4,
    "remove": 4,
}
_ENTITY = {
    **_CRUD,
    "generate": 1,
    "import": 1,
    "issue": 1,
    "sign": 1,
    "load": 2,
    "export": 2,
    "rotate": 3,
    "renew": 3,
    "set": 3,
    "change": 3,
    "reload": 3,
    "destroy": 4,
    "enable": 8,
    "disable": 9,
    "activate": 10,
    "deactivate": 11,
    "revoke": 11,
    "retire": 11,
}

# category -> (OCSF class, verb -> activity_id, activity when no verb matches)
_MAPPING: Final[dict[str, tuple[OcsfClass, dict[str, int], int]]] = {
    # Every authentication attempt is a logon attempt in OCSF terms.
    "authentication": (
        AUTHENTICATION,
        {"logoff": 2, "logout": 2, "preauth": 6},
        1,
    ),
    "token": (
        AUTHENTICATION,
        {
            "issue": 3,
            "mint": 3,
            "exchange": 4,
            "refresh": 5,
            "renew": 5,
            "verify": 1,
            "validate": 1,
            "introspect": 1,
            "revoke": 2,
        },
        OTHER,
    ),
    "authorization": (API_ACTIVITY, _CRUD, OTHER),
    "data_access": (
        API_ACTIVITY,
        {**_CRUD, "reveal": 2, "decrypt": 2, "detokenize": 2, "unmask": 2},
        OTHER,
    ),
    "key": (ENTITY_MANAGEMENT, _ENTITY, OTHER),
    "certificate": (ENTITY_MANAGEMENT, _ENTITY, OTHER),
    "configuration": (ENTITY_MANAGEMENT, _ENTITY, OTHER),
}

_SPLIT: Final = re.compile(r"[._:/\- ]+")
# outcome -> (status_id, status, severity_id, severity)
_STATUS: Final = {
    "success": (1, "Success", 1, "Informational"),
    "failure": (2, "Failure", 3, "Medium"),
    "denied": (2, "Failure", 2, "Low"),
}
# Security Control profile: an allow/deny decision was taken.
_DISPOSITION: Final = {
    "success": (1, "Allowed"),
    "failure": (2, "Blocked"),
    "denied": (2, "Blocked"),
}


def ocsf_class(category: str) -> OcsfClass:
    return _MAPPING[category][0]


def activity_id(category: str, action: str) -> int:
    """The activity of ``action``: its last word that names a known verb wins."""
    _, verbs, default = _MAPPING[category]
    for word in reversed(_SPLIT.split(action.lower())):
        if word in verbs:
            return verbs[word]
    return default


def ocsf_fields(category: str, action: str, outcome: str) -> dict[str, Any]:
    """The OCSF classification fields of one event (no event content)."""
    return dict(_ocsf_fields(category, action, outcome))


@functools.lru_cache(maxsize=1024)  # actions come from code: few distinct values
def _ocsf_fields(category: str, action: str, outcome: str) -> Mapping[str, Any]:
    cls = ocsf_class(category)
    activity = activity_id(category, action)
    status_id, status, severity_id, severity = _STATUS[outcome]
    fields: dict[str, Any] = {
        "class_uid": cls.class_uid,
        "class_name": cls.class_name,
        "category_uid": cls.category_uid,
        "category_name": cls.category_name,
        "activity_id": activity,
        "activity_name": cls.activities[activity],
        "type_uid": cls.class_uid * 100 + activity,
        "type_name": f"{cls.class_name}: {cls.activities[activity]}",
        "status_id": status_id,
        "status": status,
        "severity_id": severity_id,
        "severity": severity,
    }
    if category == "authorization" or outcome == "denied":
        fields["disposition_id"], fields["disposition"] = _DISPOSITION[outcome]
    return MappingProxyType(fields)


@functools.lru_cache(maxsize=1024)
def ocsf_json_head(category: str, action: str, outcome: str) -> str:
    """The OCSF fields as the start of a JSON object (no closing brace): cached per kind."""
    return json.dumps(dict(_ocsf_fields(category, action, outcome)), separators=(",", ":"))[:-1]
