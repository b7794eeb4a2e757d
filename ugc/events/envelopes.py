"""Accept both request shapes from the seeds and normalise them to one ``Incoming`` event.

* **v1** (seeds 001/004, the primary contract)::

      {"event": "element_click", "token": "<jwt>"|null, "data": {...},
       "event_id"?, "session_id"?, "user_id"?, "event_at"?, "sent_at"?, "context"?}

* **v2** (seed 002): ``{"event": {"event_type": "click", "timestamp", "user_id", "country",
  "device", ...type fields}}``, optionally with a top-level ``token``, ``event_id``,
  ``session_id`` and ``sent_at``. Its types map onto the registry as follows:

  ======================  ================  ==================================================
  seed 002 ``event_type``  canonical type    field mapping
  ======================  ================  ==================================================
  click                   element_click     element -> element_type; page_type "unknown"
  page_view               page_view_start   page_view_id = event_id; page_type "unknown";
                                            a seed-002 page view has no end event
  search_filter_use       search_filter     filters = "<filter_type>=<filter_value>";
                                            search_query ""; both parts kept
  quality_change          quality_change    "240p" -> 240; current_time -> position_s
  video_complete          video_complete    duration -> duration_s; duration_total true
  ======================  ================  ==================================================

  ``user_id`` is a *claimed* id (kept in ``claimed_user_id``); ``country``, ``device``,
  ``page_url`` and ``referrer_url`` become the record's context.

Which shape: ``event`` is a string (v1) or an object (v2). Errors name the field as the
client sent it: ``data.page_view_id`` in v1, ``event.from_quality`` in v2.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ugc.errors import ValidationFailed, flatten_errors
from ugc.events.fastpath import fast_v1
from ugc.events.record import Incoming
from ugc.events.registry import Registry, UnknownEventType
from ugc.events.schemas import (
    EnvelopeV1Schema,
    StrictInteger,
    Timestamp,
    UuidString,
    data_schema,
    load,
)

UNKNOWN_PAGE_TYPE = "unknown"


def normalise(payload: Any, registry: Registry) -> Incoming:
    """Validate one event in either envelope; raise ``ValidationFailed`` with field errors."""
    if not isinstance(payload, dict):
        raise ValidationFailed(
            "an event must be a JSON object", {"_schema": ["Expected a JSON object."]}
        )
    event = payload.get("event")
    if isinstance(event, dict):
        return _normalise_v2(payload, registry)
    return _normalise_v1(payload, registry)


# ------------------------------------------------------------------------------------- v1
_V1 = EnvelopeV1Schema()


def _normalise_v1(payload: dict[str, Any], registry: Registry) -> Incoming:
    fast = fast_v1(payload, registry)
    return fast if fast is not None else load_v1(payload, registry)


def load_v1(payload: dict[str, Any], registry: Registry) -> Incoming:
    """The reference path: marshmallow decides and names every error."""
    errors: dict[str, Any] = {}
    try:
        envelope = load(_V1, payload)
    except ValidationError as exc:
        errors.update(exc.normalized_messages())
        envelope = exc.valid_data or {}
    name = payload.get("event")
    data: dict[str, Any] = {}
    if isinstance(name, str) and "event" not in errors:
        try:
            event_type = registry.get(name)
        except UnknownEventType:
            errors["event"] = [
                f"Unknown event type {name!r}; known: {', '.join(registry.names())}."
            ]
        else:
            raw_data = payload.get("data")
            if isinstance(raw_data, dict):
                try:
                    data = load(data_schema(event_type), raw_data)
                except ValidationError as exc:
                    errors["data"] = exc.normalized_messages()
    if errors:
        raise ValidationFailed("the event is invalid", flatten_errors(errors))
    return Incoming(
        event_type=event_type,
        data=data,
        envelope="v1",
        token=envelope.get("token"),
        event_id=envelope.get("event_id"),
        session_id=envelope.get("session_id"),
        claimed_user_id=envelope.get("user_id"),
        client_event_at=envelope.get("event_at"),
        client_sent_at=envelope.get("sent_at"),
        context=envelope.get("context") or {},
    )


# ------------------------------------------------------------------------------------- v2
_QUALITY = re.compile(r"^\s*(\d{2,5})\s*p?\s*$", re.IGNORECASE)
_QUALITY_NAMES = {"4k": 2160, "8k": 4320}


class Quality(fields.Field):
    """``"720p"``, ``"720"``, ``720`` or ``"4K"`` -> 720 / 2160 (video height in pixels)."""

    default_error_messages = {"invalid": "Not a video quality such as '720p'."}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10000:
            return value
        if isinstance(value, str):
            if value.strip().lower() in _QUALITY_NAMES:
                return _QUALITY_NAMES[value.strip().lower()]
            match = _QUALITY.match(value)
            if match and 0 < int(match.group(1)) <= 10000:
                return int(match.group(1))
        raise self.make_error("invalid")


def _text(max_length: int, required: bool = True) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(max=max_length))
    return fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=max_length)
    )


_V2_COMMON = {
    "event_type": fields.String(required=True),
    "timestamp": Timestamp(required=True),
    "user_id": fields.String(allow_none=True, load_default=None, validate=validate.Length(max=128)),
    "country": _text(64),
    "device": _text(64),
}


@dataclass(frozen=True)
class _V2Type:
    canonical: str
    fields: dict[str, fields.Field]
    translate: Callable[[dict[str, Any], str], dict[str, Any]]
    #: canonical data field -> the seed-002 field it came from (for error paths)
    origin: dict[str, str]


_V2_TYPES: dict[str, _V2Type] = {
    "click": _V2Type(
        "element_click",
        {"element": _text(64), "page_url": _text(2048)},
        lambda e, _id: {"element_type": e["element"], "page_type": UNKNOWN_PAGE_TYPE},
        {"element_type": "element"},
    ),
    "page_view": _V2Type(
        "page_view_start",
        {"page_url": _text(2048), "referrer_url": _text(2048, required=False)},
        lambda e, event_id: {"page_view_id": event_id, "page_type": UNKNOWN_PAGE_TYPE},
        {},
    ),
    "search_filter_use": _V2Type(
        "search_filter",
        {"filter_type": _text(64), "filter_value": _text(256)},
        lambda e, _id: {
            "search_query": "",
            "filters": f"{e['filter_type']}={e['filter_value']}",
            "filter_type": e["filter_type"],
            "filter_value": e["filter_value"],
        },
        {"filters": "filter_value"},
    ),
    "quality_change": _V2Type(
        "quality_change",
        {
            "video_id": _text(128),
            "from_quality": Quality(required=True),
            "to_quality": Quality(required=True),
            "current_time": StrictInteger(
                strict=True, required=True, validate=validate.Range(min=0, max=10**7)
            ),
        },
        lambda e, _id: {
            "video_id": e["video_id"],
            "old_quality": e["from_quality"],
            "new_quality": e["to_quality"],
            "position_s": e["current_time"],
        },
        {"old_quality": "from_quality", "new_quality": "to_quality", "position_s": "current_time"},
    ),
    "video_complete": _V2Type(
        "video_complete",
        {
            "video_id": _text(128),
            "duration": StrictInteger(
                strict=True, required=True, validate=validate.Range(min=0, max=10**7)
            ),
        },
        lambda e, _id: {
            "video_id": e["video_id"],
            "duration_total": True,
            "duration_s": e["duration"],
        },
        {"duration_s": "duration"},
    ),
}

_V2_SCHEMAS = {
    name: Schema.from_dict({**_V2_COMMON, **spec.fields}, name=f"v2_{name}")(unknown=RAISE)
    for name, spec in _V2_TYPES.items()
}


class _V2Outer(Schema):
    class Meta:
        unknown = RAISE

    event = fields.Dict(required=True)
    token = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=8192))
    event_id = UuidString(allow_none=True, load_default=None)
    session_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=128)
    )
    sent_at = Timestamp(allow_none=True, load_default=None)


_V2_OUTER = _V2Outer()


def _normalise_v2(payload: dict[str, Any], registry: Registry) -> Incoming:
    errors: dict[str, Any] = {}
    try:
        outer = load(_V2_OUTER, payload)
    except ValidationError as exc:
        errors.update(exc.normalized_messages())
        outer = exc.valid_data or {}
    event = payload["event"]
    kind = event.get("event_type")
    spec = _V2_TYPES.get(kind) if isinstance(kind, str) else None
    inner: dict[str, Any] = {}
    if spec is None:
        errors["event"] = {
            "event_type": [f"Unknown event_type {kind!r}; known: {', '.join(_V2_TYPES)}."]
        }
    else:
        try:
            inner = load(_V2_SCHEMAS[kind], event)
        except ValidationError as exc:
            errors["event"] = exc.normalized_messages()
    if errors:
        raise ValidationFailed("the event is invalid", flatten_errors(errors))
    assert spec is not None
    event_id = outer.get("event_id") or str(uuid.uuid4())
    event_type = registry.get(spec.canonical)
    try:
        data = load(data_schema(event_type), spec.translate(inner, event_id))
    except ValidationError as exc:
        translated = {
            spec.origin.get(field, field): messages
            for field, messages in exc.normalized_messages().items()
        }
        raise ValidationFailed(
            "the event is invalid", flatten_errors({"event": translated})
        ) from None
    return Incoming(
        event_type=event_type,
        data=data,
        envelope="v2",
        token=outer.get("token"),
        event_id=event_id,
        session_id=outer.get("session_id"),
        claimed_user_id=inner.get("user_id"),
        client_event_at=inner.get("timestamp"),
        client_sent_at=outer.get("sent_at"),
        context={
            "country": inner.get("country"),
            "device": inner.get("device"),
            "page_url": inner.get("page_url"),
            "referrer": inner.get("referrer_url"),
        },
    )
