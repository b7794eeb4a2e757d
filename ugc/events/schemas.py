"""Marshmallow schemas derived from the registry, plus the envelope's own fields."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ugc.events.registry import EventType, Field

#: client clocks outside this range are not plausible event times
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def to_instant(value: Any) -> datetime:
    """A client time: ISO 8601 text (naive means UTC) or epoch milliseconds, in range.

    Raises ``ValueError`` (message "invalid" or "range") for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("invalid")
    try:
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise ValueError("invalid")
            moment = datetime.fromtimestamp(value / 1000.0, tz=UTC)
        elif isinstance(value, str) and 10 <= len(value) <= 40:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
        else:
            raise ValueError("invalid")
    except (ValueError, OverflowError, OSError):
        raise ValueError("invalid") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError("range")
    return moment


class Timestamp(fields.Field):
    """An instant: an ISO 8601 string (naive means UTC) or epoch milliseconds (JS ``Date.now()``)."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's convention
        "invalid": "Not a valid timestamp: use ISO 8601 or epoch milliseconds.",
        "range": "Timestamp out of range (2000-01-01 to 2100-01-01).",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        try:
            return to_instant(value)
        except ValueError as exc:
            raise self.make_error(str(exc)) from None


class UuidString(fields.String):
    """A UUID, returned in canonical lower-case text form."""

    default_error_messages = {"invalid_uuid": "Not a valid UUID."}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except (ValueError, AttributeError):
            raise self.make_error("invalid_uuid") from None


class StrictInteger(fields.Integer):
    """An integer that refuses booleans and numeric strings."""

    def _validated(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    """``true``/``false`` only: no ``"yes"``, no ``1``."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def marshmallow_field(spec: Field) -> fields.Field:
    """The marshmallow field for one registry field."""
    common: dict[str, Any] = {"required": spec.required}
    if not spec.required:
        common["allow_none"] = True
        common["load_default"] = [] if spec.kind == "strings" else None
    length = validate.Length(max=spec.max_length)
    if spec.kind == "string":
        return fields.String(validate=length, **common)
    if spec.kind == "uuid":
        return UuidString(**common)
    if spec.kind == "int":
        return StrictInteger(
            strict=True, validate=validate.Range(min=spec.minimum, max=spec.maximum), **common
        )
    if spec.kind == "bool":
        return StrictBoolean(**common)
    if spec.kind == "enum":
        return fields.String(validate=validate.OneOf(spec.choices), **common)
    if spec.kind == "strings":
        return fields.List(
            fields.String(validate=length), validate=validate.Length(max=100), **common
        )
    raise AssertionError(spec.kind)


@cache
def data_schema(event_type: EventType) -> Schema:
    """The schema of ``data`` for one event type (cached: schemas are built once)."""
    schema_class = Schema.from_dict(
        {spec.name: marshmallow_field(spec) for spec in event_type.fields},
        name=f"{event_type.name}_data",
    )
    return schema_class(unknown=RAISE)


#: limits of the envelope's own fields (the fast path in ``ugc.events.fastpath`` reads them too)
TOKEN_MAX = 8192
ID_MAX = 128
CONTEXT_LIMITS = {"country": 64, "device": 64, "page_url": 2048, "referrer": 2048}


class ContextSchema(Schema):
    class Meta:
        unknown = RAISE

    country = fields.String(
        allow_none=True, validate=validate.Length(max=CONTEXT_LIMITS["country"])
    )
    device = fields.String(allow_none=True, validate=validate.Length(max=CONTEXT_LIMITS["device"]))
    page_url = fields.String(
        allow_none=True, validate=validate.Length(max=CONTEXT_LIMITS["page_url"])
    )
    referrer = fields.String(
        allow_none=True, validate=validate.Length(max=CONTEXT_LIMITS["referrer"])
    )


class EnvelopeV1Schema(Schema):
    """Seed 001/004: ``{"event": "<type>", "token": "<jwt>"|null, "data": {...}}`` plus
    optional ids, client times and context."""

    class Meta:
        unknown = RAISE

    event = fields.String(required=True, validate=validate.Length(min=1, max=64))
    token = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=8192))
    data = fields.Dict(required=True)
    event_id = UuidString(allow_none=True, load_default=None)
    session_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=128)
    )
    user_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=128))
    event_at = Timestamp(allow_none=True, load_default=None)
    sent_at = Timestamp(allow_none=True, load_default=None)
    context = fields.Nested(ContextSchema, allow_none=True, load_default=None)


ENVELOPE_V1_KEYS = frozenset(EnvelopeV1Schema().fields)


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    """``schema.load`` that also rejects a non-object payload with a field-style error."""
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["Expected a JSON object."]})
    return schema.load(payload)
