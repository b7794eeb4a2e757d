"""The canonical record's contract as a marshmallow schema, derived from the registry.

This is the readable, slow statement of what the loader accepts. The loader runs the fast
checks in ``ugc.etl.validate`` and asks this schema only about records those checks do not
accept outright (to get the verdict and the field errors); a test proves both agree.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ugc.events.record import IDENTITY_SOURCES
from ugc.events.registry import EventType
from ugc.events.schemas import EARLIEST, LATEST, StrictInteger, UuidString, data_schema

#: ``ugc.events.record.format_ts``: UTC, milliseconds, ``Z``
CANONICAL_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
ENVELOPES = ("v1", "v2")
ID_MAX = 256
CONTEXT_LIMITS = {
    "country": 64,
    "device": 64,
    "page_url": 2048,
    "referrer": 2048,
    "user_agent": 512,
}


class CanonicalTimestamp(fields.String):
    """``2026-11-23T18:32:56.123Z`` between 2000 and 2100; kept as text."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's convention
        "format": "Not a canonical timestamp (YYYY-MM-DDTHH:MM:SS.mmmZ).",
        "range": "Timestamp out of range (2000-01-01 to 2100-01-01).",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not CANONICAL_TS.fullmatch(text):
            raise self.make_error("format")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.make_error("format") from None
        if not EARLIEST <= moment < LATEST:
            raise self.make_error("range")
        return text


def _text(limit: int, **kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=limit), **kw)


def _optional_text(limit: int) -> fields.String:
    return _text(limit, allow_none=True, load_default=None)


class ContextSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    country = _optional_text(CONTEXT_LIMITS["country"])
    device = _optional_text(CONTEXT_LIMITS["device"])
    page_url = _optional_text(CONTEXT_LIMITS["page_url"])
    referrer = _optional_text(CONTEXT_LIMITS["referrer"])
    user_agent = _optional_text(CONTEXT_LIMITS["user_agent"])


class RecordSchema(Schema):
    """Everything but ``data``, which ``data_schema(event_type)`` checks."""

    class Meta:
        unknown = EXCLUDE

    event_id = UuidString(required=True)
    event_type = fields.String(required=True)
    schema_version = StrictInteger(strict=True, required=True, validate=validate.Range(1, 65535))
    envelope = fields.String(required=True, validate=validate.OneOf(ENVELOPES))
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    claimed_user_id = _optional_text(ID_MAX)
    identity_source = fields.String(required=True, validate=validate.OneOf(IDENTITY_SOURCES))
    session_id = _optional_text(ID_MAX)
    received_at = CanonicalTimestamp(required=True)
    client_event_at = CanonicalTimestamp(allow_none=True, load_default=None)
    client_sent_at = CanonicalTimestamp(allow_none=True, load_default=None)
    event_at = CanonicalTimestamp(required=True)
    context = fields.Nested(ContextSchema, allow_none=True, load_default=None)
    data = fields.Dict(required=True)


@cache
def _record_schema() -> RecordSchema:
    return RecordSchema()


def load_record(record: Any, event_type: EventType) -> dict[str, Any]:
    """The normalised record, or ``ValidationError`` with every field error."""
    if not isinstance(record, dict):
        raise ValidationError({"_schema": ["Expected a JSON object."]})
    errors: dict[str, Any] = {}
    try:
        loaded = _record_schema().load(record)
    except ValidationError as exc:
        errors.update(exc.normalized_messages())
        loaded = dict(exc.valid_data or {})
    if record.get("event_type") != event_type.name and "event_type" not in errors:
        errors["event_type"] = [f"Expected {event_type.name!r}."]
    data = record.get("data")
    if isinstance(data, dict):
        try:
            loaded["data"] = data_schema(event_type).load(data)
        except ValidationError as exc:
            errors["data"] = exc.normalized_messages()
    if errors:
        raise ValidationError(errors)
    if loaded.get("context") is None:
        loaded["context"] = None
    return loaded
