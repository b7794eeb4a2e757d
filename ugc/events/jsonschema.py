"""JSON Schema (OpenAPI 3.1 flavour) for the request envelopes, derived from the registry."""

from __future__ import annotations

from typing import Any

from ugc.events.registry import EventType, Field, Registry

#: the accepted range, [2000-01-01, 2100-01-01) UTC, in epoch milliseconds
EARLIEST_MS = 946_684_800_000
LATEST_MS = 4_102_444_800_000
ISO_TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    # what the collector parses (Python's ISO 8601); years 2001-2098, so that no UTC offset
    # can move a documented time out of the accepted [2000-01-01, 2100-01-01)
    "pattern": r"^20(0[1-9]|[1-8][0-9]|9[0-8])-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?$",
}
TIMESTAMP = {
    "oneOf": [
        ISO_TIMESTAMP,
        {
            "type": "integer",
            "minimum": EARLIEST_MS,
            "exclusiveMaximum": LATEST_MS,
            "description": "epoch milliseconds",
        },
    ],
    "description": "ISO 8601 (naive means UTC) or epoch milliseconds, "
    "from 2000-01-01 to 2100-01-01 (UTC).",
}


def field_schema(spec: Field) -> dict[str, Any]:
    if spec.kind in {"string", "uuid"}:
        schema: dict[str, Any] = {"type": "string", "maxLength": spec.max_length}
        if spec.kind == "uuid":
            schema = {"type": "string", "format": "uuid"}
    elif spec.kind == "int":
        schema = {"type": "integer"}
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
    elif spec.kind == "bool":
        schema = {"type": "boolean"}
    elif spec.kind == "enum":
        schema = {"type": "string", "enum": list(spec.choices)}
    else:
        schema = {
            "type": "array",
            "items": {"type": "string", "maxLength": spec.max_length},
            "maxItems": 100,
        }
    if not spec.required:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if spec.doc:
        schema["description"] = spec.doc
    return schema


def data_schema(event_type: EventType) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in event_type.fields if f.required],
        "properties": {f.name: field_schema(f) for f in event_type.fields},
    }


def _nullable_string(max_length: int) -> dict[str, Any]:
    return {"anyOf": [{"type": "string", "maxLength": max_length}, {"type": "null"}]}


def v1_event_schema(event_type: EventType) -> dict[str, Any]:
    """The v1 envelope for one event type."""
    return {
        "type": "object",
        "title": event_type.name,
        "description": event_type.doc,
        "additionalProperties": False,
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "const": event_type.name},
            "token": {
                **_nullable_string(8192),
                "description": "The user's JWT, or null. Never stored.",
            },
            "data": data_schema(event_type),
            "event_id": {
                "anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}],
                "description": "Idempotency key; the server makes one when absent.",
            },
            "session_id": _nullable_string(128),
            "user_id": {**_nullable_string(128), "description": "Claimed id; never trusted."},
            "event_at": {"anyOf": [TIMESTAMP, {"type": "null"}]},
            "sent_at": {"anyOf": [TIMESTAMP, {"type": "null"}]},
            "context": {
                "anyOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "country": _nullable_string(64),
                            "device": _nullable_string(64),
                            "page_url": _nullable_string(2048),
                            "referrer": _nullable_string(2048),
                        },
                    },
                    {"type": "null"},
                ]
            },
        },
    }


def event_examples(registry: Registry) -> dict[str, dict[str, Any]]:
    """One example request per event type, for the OpenAPI document."""
    return {
        t.name: {"summary": t.doc, "value": {"event": t.name, "token": None, "data": t.example()}}
        for t in registry
    }
