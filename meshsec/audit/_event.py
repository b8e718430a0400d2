"""The security event: one structured record per security-relevant decision."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import attrs

from meshsec.audit import _ocsf
from meshsec.audit._errors import AuditEventError
from meshsec.audit._sanitize import (
    MAX_NAME,
    MAX_TEXT,
    JsonScalar,
    clean_attributes,
    clean_optional,
    clean_text,
)
from meshsec.clock import to_datetime
from meshsec.correlation import peek

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


class Category(enum.StrEnum):
    """What area of security an event is about."""

    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    TOKEN = "token"  # noqa: S105  # a category name, not a credential
    KEY = "key"
    CERTIFICATE = "certificate"
    DATA_ACCESS = "data_access"
    CONFIGURATION = "configuration"


class Outcome(enum.StrEnum):
    """How the decision or operation ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


def _category(value: Category | str) -> Category:
    try:
        return Category(value)
    except ValueError:
        raise AuditEventError(f"unknown audit category; use one of {list(Category)}") from None


def _outcome(value: Outcome | str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise AuditEventError(f"unknown audit outcome; use one of {list(Outcome)}") from None


def _timestamp(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise AuditEventError("an audit timestamp must be an aware datetime (tzinfo=UTC)")
    return value.astimezone(UTC)


def _action(value: str) -> str:
    return clean_text(value, MAX_NAME)


def _name(value: object) -> str | None:
    return clean_optional(value, MAX_NAME)


def _text(value: object) -> str | None:
    return clean_optional(value, MAX_TEXT)


def _reason(value: object) -> str | None:
    """The reason *code*: an exception or exception class stands for its ``code``.

    ``reason=exc`` must never put the exception's message (which may quote
    request data) into the trail; a ``MeshsecError`` gives its stable code,
    any other exception only its type name.
    """
    if isinstance(value, BaseException):
        value = type(value)
    if isinstance(value, type) and issubclass(value, BaseException):
        code = getattr(value, "code", None)
        value = code if isinstance(code, str) else value.__name__
    return clean_optional(value, MAX_NAME)


def _bound_correlation_id() -> str | None:
    ctx = peek()
    return None if ctx is None else ctx.correlation_id


def _bound_trace_id() -> str | None:
    ctx = peek()
    return None if ctx is None else ctx.trace_id


def _now() -> datetime:
    return to_datetime()


@attrs.frozen(kw_only=True)
class SecurityEvent:
    """One security-relevant decision, already escaped, bounded and redacted.

    Every text field is cleaned on construction: control characters, ANSI
    escapes and Unicode separators become visible ``\\xNN`` text, values that
    look like a JWT or a PEM private key become ``[REDACTED]``, and so do
    attributes whose names look secret. ``correlation_id`` and ``trace_id``
    default to the bound correlation context (``meshsec.correlation``).

    Raises :class:`AuditEventError` for a naive timestamp or an unknown
    category or outcome.
    """

    timestamp: datetime = attrs.field(factory=_now, converter=_timestamp)
    category: Category = attrs.field(converter=_category)
    action: str = attrs.field(converter=_action)
    outcome: Outcome = attrs.field(converter=_outcome)
    actor: str | None = attrs.field(default=None, converter=_text)
    target: str | None = attrs.field(default=None, converter=_text)
    reason: str | None = attrs.field(default=None, converter=_reason)
    correlation_id: str | None = attrs.field(factory=_bound_correlation_id, converter=_name)
    trace_id: str | None = attrs.field(factory=_bound_trace_id, converter=_name)
    attributes: Mapping[str, JsonScalar] = attrs.field(
        default=None, converter=clean_attributes, hash=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict: OCSF classification plus meshsec's fields.

        OCSF fields sit at the top level (``class_uid``, ``activity_id``,
        ``type_uid``, ``status_id``, ``severity_id``, ``time`` in epoch ms,
        ``metadata``); meshsec's own fields sit under ``"meshsec"``.
        """
        data = _ocsf.ocsf_fields(self.category, self.action, self.outcome)
        data["time"] = (self.timestamp - _EPOCH) // _MS
        data["status_detail"] = self.reason
        data["metadata"] = {
            "version": _ocsf.OCSF_VERSION,
            "product": {"name": "meshsec", "vendor_name": "meshsec"},
            "correlation_uid": self.correlation_id,
        }
        data["meshsec"] = {
            "timestamp": format_timestamp(self.timestamp),
            "category": self.category.value,
            "action": self.action,
            "outcome": self.outcome.value,
            "actor": self.actor,
            "target": self.target,
            "reason": self.reason,
            "correlation_id": self.correlation_id,
            "trace_id": self.trace_id,
            "attributes": dict(self.attributes),
        }
        return data

    def to_json(self) -> str:
        """The same object as :meth:`to_dict`, as compact pure-ASCII JSON.

        Pure ASCII: no raw control character or separator survives even in a
        consumer that decodes loosely. Built from a cached OCSF prefix, since
        the file sink serializes every event on the caller's thread.
        """
        head = _ocsf.ocsf_json_head(self.category, self.action, self.outcome)
        q = _quote  # a local name: this runs once per event on the caller's thread
        return (
            f'{head},"time":{(self.timestamp - _EPOCH) // _MS},'
            f'"status_detail":{q(self.reason)},'
            f'"metadata":{_METADATA_HEAD}{q(self.correlation_id)}}},'
            f'"meshsec":{{"timestamp":"{format_timestamp(self.timestamp)}",'
            f'"category":"{self.category._value_}","action":{q(self.action)},'
            f'"outcome":"{self.outcome._value_}","actor":{q(self.actor)},'
            f'"target":{q(self.target)},"reason":{q(self.reason)},'
            f'"correlation_id":{q(self.correlation_id)},"trace_id":{q(self.trace_id)},'
            f'"attributes":{_attributes_json(self.attributes)}}}}}'
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecurityEvent:
        """Rebuild an event from :meth:`to_dict` output (for example a line of an audit file).

        The input is treated as untrusted: it is cleaned exactly like a new
        event. Raises :class:`AuditEventError` when the shape is wrong.
        """
        fields = data.get("meshsec") if isinstance(data, Mapping) else None
        if not isinstance(fields, Mapping):
            raise AuditEventError("not a meshsec audit event: the 'meshsec' object is missing")
        try:
            return cls(
                timestamp=datetime.fromisoformat(str(fields["timestamp"])),
                category=fields["category"],
                action=fields["action"],
                outcome=fields["outcome"],
                actor=fields.get("actor"),
                target=fields.get("target"),
                reason=fields.get("reason"),
                correlation_id=fields.get("correlation_id"),
                trace_id=fields.get("trace_id"),
                attributes=fields.get("attributes"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, AuditEventError):
                raise
            raise AuditEventError(f"malformed meshsec audit event ({type(exc).__name__})") from None


def format_timestamp(value: datetime) -> str:
    """RFC 3339 with a ``Z`` suffix and microseconds; ``value`` is aware UTC."""
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


# Hand-built JSON: json.dumps sets up a new C encoder on every call, which
# dominated the file sink's cost. Only strings and cleaned scalars get here.
_encode_string: Final = json.encoder.encode_basestring_ascii


def _quote(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def _scalar_json(value: JsonScalar) -> str:
    if isinstance(value, str):
        return _encode_string(value)
    if value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    return int.__repr__(value) if isinstance(value, int) else float.__repr__(value)


def _attributes_json(attributes: Mapping[str, JsonScalar]) -> str:
    if not attributes:
        return "{}"
    inner = ",".join(f"{_encode_string(k)}:{_scalar_json(v)}" for k, v in attributes.items())
    return f"{{{inner}}}"


_METADATA_HEAD: Final = (
    json.dumps(
        {"version": _ocsf.OCSF_VERSION, "product": {"name": "meshsec", "vendor_name": "meshsec"}},
        separators=(",", ":"),
    )[:-1]
    + ',"correlation_uid":'
)
