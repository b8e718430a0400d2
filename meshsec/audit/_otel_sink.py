"""Audit events as OpenTelemetry span events on the current span."""

from __future__ import annotations

from opentelemetry import trace

from meshsec.audit._event import SecurityEvent

_AttributeValue = str | bool | int | float


class OTelSink:
    """Add ``meshsec.<category>.<action>`` as an event on the current span.

    Attributes are flattened (``meshsec.outcome``, ``meshsec.attributes.kid``,
    OCSF ``class_uid`` ...); ``None`` values are left out. Without the
    OpenTelemetry SDK, or outside a recording span, this does nothing.
    """

    __slots__ = ()

    def emit(self, event: SecurityEvent) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        span.add_event(f"meshsec.{event.category.value}.{event.action}", span_attributes(event))

    def __repr__(self) -> str:
        return "OTelSink()"


def span_attributes(event: SecurityEvent) -> dict[str, _AttributeValue]:
    data = event.to_dict()
    fields = data.pop("meshsec")
    flat: dict[str, _AttributeValue] = {
        "ocsf.class_uid": data["class_uid"],
        "ocsf.activity_id": data["activity_id"],
        "ocsf.type_uid": data["type_uid"],
        "ocsf.status_id": data["status_id"],
    }
    attributes = fields.pop("attributes")
    for name, value in fields.items():
        if value is not None:
            flat[f"meshsec.{name}"] = value
    for name, value in attributes.items():
        if value is not None:
            flat[f"meshsec.attributes.{name}"] = value
    return flat
