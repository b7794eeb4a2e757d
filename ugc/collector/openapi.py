"""The OpenAPI 3.1 document of the collector, derived from the event registry."""

from __future__ import annotations

from typing import Any

from ugc import __version__
from ugc.events import Registry
from ugc.events.jsonschema import TIMESTAMP, event_examples, v1_event_schema

JSON = "application/json"
SEED_002_TYPES = ["click", "page_view", "search_filter_use", "quality_change", "video_complete"]

ERROR = {
    "type": "object",
    "required": ["error", "message", "errors"],
    "properties": {
        "error": {"type": "string", "description": "Stable machine-readable code."},
        "message": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Field path -> messages (for 422).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "limit": {"type": "integer", "description": "The limit exceeded (413)."},
    },
}
BATCH_RESULT = {
    "type": "object",
    "required": ["accepted", "rejected", "event_ids", "errors"],
    "properties": {
        "accepted": {"type": "integer"},
        "rejected": {"type": "integer"},
        "event_ids": {
            "type": "array",
            "items": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
            "description": "Per index: the id of the accepted event, or null.",
        },
        "errors": {
            "type": "object",
            "description": "Index -> field path -> messages, for the refused events.",
            "additionalProperties": {"$ref": "#/components/schemas/FieldErrors"},
        },
        "error": {"type": "string"},
        "message": {"type": "string"},
    },
}
BATCH_OR_ERROR = {
    "anyOf": [{"$ref": "#/components/schemas/BatchResult"}, {"$ref": "#/components/schemas/Error"}]
}


def _text(max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


_QUALITY = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": 10000},
        {"type": "string", "pattern": "^[1-9][0-9]{1,3}p?$"},
        {"type": "string", "enum": ["4K", "8K", "4k", "8k"]},
    ],
    "description": "Video height: 720, '720', '720p' or '4K'.",
}
_SECONDS = {"type": "integer", "minimum": 0, "maximum": 10**7}
#: the fields of each seed-002 type (ugc.events.envelopes); all of them are required but
#: referrer_url
SEED_002_FIELDS: dict[str, dict[str, Any]] = {
    "click": {"element": _text(64), "page_url": _text(2048)},
    "page_view": {
        "page_url": _text(2048),
        "referrer_url": {"anyOf": [_text(2048), {"type": "null"}]},
    },
    "search_filter_use": {"filter_type": _text(64), "filter_value": _text(256)},
    "quality_change": {
        "video_id": _text(128),
        "from_quality": _QUALITY,
        "to_quality": _QUALITY,
        "current_time": _SECONDS,
    },
    "video_complete": {"video_id": _text(128), "duration": _SECONDS},
}


def _v2_inner(name: str) -> dict[str, Any]:
    own = SEED_002_FIELDS[name]
    return {
        "type": "object",
        "title": f"seed 002 {name}",
        "additionalProperties": False,
        "required": [
            "event_type",
            "timestamp",
            "country",
            "device",
            *(f for f in own if f != "referrer_url"),
        ],
        "properties": {
            "event_type": {"type": "string", "const": name},
            "timestamp": TIMESTAMP,
            "user_id": {
                "anyOf": [_text(128), {"type": "null"}],
                "description": "Claimed; never trusted.",
            },
            "country": _text(64),
            "device": _text(64),
            **own,
        },
    }


V2_EVENT = {
    "type": "object",
    "title": "seed 002 envelope",
    "description": "The seed 002 shape, normalised to the same canonical record.",
    "additionalProperties": False,
    "required": ["event"],
    "properties": {
        "event": {"oneOf": [_v2_inner(name) for name in SEED_002_TYPES]},
        "token": {"anyOf": [_text(8192), {"type": "null"}]},
        "event_id": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
        "session_id": {"anyOf": [_text(128), {"type": "null"}]},
        "sent_at": {"anyOf": [TIMESTAMP, {"type": "null"}]},
    },
}
V2_EXAMPLE = {
    "summary": "seed 002 click",
    "value": {
        "event": {
            "event_type": "click",
            "timestamp": "2024-10-03T14:30:00Z",
            "user_id": "956939f6-7a98-4bf1-9949-500e5dd20fa0",
            "country": "US",
            "device": "mobile",
            "element": "button_submit",
            "page_url": "https://example.com/submit",
        }
    },
}


def _error(description: str, *, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        }
    return response


COMMON_ERRORS = {
    "400": _error("Malformed body: bad JSON, bad gzip, or nested too deep."),
    "413": _error("Over a size limit (per event, per request, decompressed, batch count)."),
    "415": _error("Unsupported Content-Type or Content-Encoding."),
    "429": _error("Rate limited (per client IP).", retry=True),
    "503": _error("Neither Kafka nor the local spool can take the event.", retry=True),
}


def _body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    media = {"schema": schema, "examples": examples}
    return {
        "required": True,
        "description": "JSON; `text/plain` (navigator.sendBeacon) is read the same way; "
        "`Content-Encoding: gzip` is accepted.",
        "content": {JSON: media, "text/plain": media},
    }


def build_openapi(registry: Registry) -> dict[str, Any]:
    event_refs = [{"$ref": f"#/components/schemas/{t.name}"} for t in registry]
    event = {"oneOf": [*event_refs, {"$ref": "#/components/schemas/SeedV2Event"}]}
    examples = {**event_examples(registry), "seed002_click": V2_EXAMPLE}
    first = next(iter(registry))
    batch_example = {
        "value": {
            "events": [{"event": t.name, "token": None, "data": t.example()} for t in registry]
        }
    }
    batch = {
        "oneOf": [
            {
                "type": "object",
                "required": ["events"],
                "properties": {"events": {"type": "array", "items": event, "minItems": 1}},
            },
            {"type": "array", "items": event, "minItems": 1},
        ]
    }
    accepted = {
        "type": "object",
        "required": ["event_id"],
        "properties": {"event_id": {"type": "string", "format": "uuid"}},
    }
    batch_responses = {
        "200": {
            "description": "Every event accepted.",
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/BatchResult"}}},
        },
        "207": {
            "description": "Some events accepted; the others are reported by index.",
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/BatchResult"}}},
        },
        "422": {
            "description": "No event valid (a BatchResult), or not a batch at all (an Error).",
            "content": {JSON: {"schema": BATCH_OR_ERROR}},
        },
        **COMMON_ERRORS,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ugc collector",
            "version": __version__,
            "description": "Collects online-cinema user events. A 2xx means the event is in "
            "Kafka (acks=all) or fsync'd to the collector's local spool; otherwise 503.",
        },
        "paths": {
            "/api/v1/events": {
                "post": {
                    "summary": "Send one event",
                    "operationId": "postEvent",
                    "requestBody": _body(event, examples),
                    "responses": {
                        "200": {
                            "description": "Accepted and stored.",
                            "content": {JSON: {"schema": accepted}},
                        },
                        "422": _error("Invalid event; `errors` has the field-level messages."),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/api/v1/events/batch": {
                "post": {
                    "summary": "Send a batch of events",
                    "operationId": "postEventBatch",
                    "requestBody": _body(batch, {"all_types": batch_example}),
                    "responses": batch_responses,
                }
            },
            "/api/v1/events/validate": {
                "post": {
                    "summary": "Validate one event or a batch; nothing is published",
                    "operationId": "validateEvents",
                    "requestBody": _body(
                        {"anyOf": [event, batch]}, {first.name: examples[first.name]}
                    ),
                    "responses": {
                        "200": {
                            "description": "Valid; the canonical record it would become.",
                            "content": {JSON: {"schema": {"type": "object"}}},
                        },
                        "422": {
                            "description": "Invalid: an Error with field errors for one "
                            "event, a BatchResult (errors by index) for a batch.",
                            "content": {JSON: {"schema": BATCH_OR_ERROR}},
                        },
                        "400": COMMON_ERRORS["400"],
                        "413": COMMON_ERRORS["413"],
                        "415": COMMON_ERRORS["415"],
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {"200": {"description": "The process answers."}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: Kafka reachable or spool writable",
                    "responses": {
                        "200": {"description": "Ready."},
                        "503": {"description": "Neither Kafka nor the spool."},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "Text exposition format."}},
                }
            },
        },
        "components": {
            "schemas": {
                **{t.name: v1_event_schema(t) for t in registry},
                "SeedV2Event": V2_EVENT,
                "Error": ERROR,
                "FieldErrors": ERROR["properties"]["errors"],
                "BatchResult": BATCH_RESULT,
            }
        },
    }
