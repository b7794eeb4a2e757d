"""Break a valid event on purpose, the ways real clients do, and say what the answer must be.

=================  ======  =====================================================================
kind               status  what is wrong
=================  ======  =====================================================================
malformed_json     400     not JSON: cut short, a trailing comma, Python's single quotes
unknown_type       422     an event type nobody registered (v1 ``event``, v2 ``event_type``)
missing_field      422     a required field left out
wrong_type         422     a field of the wrong JSON type: ``"1080"`` for a number, ``"yes"``
                           for a boolean, a number for a string, a string for a list
bad_value          422     the right type, a wrong value: not a UUID, an enum outside its
                           choices, a negative position, a time that is not a time
=================  ======  =====================================================================
"""

from __future__ import annotations

import copy
import dataclasses
import random
from typing import Any

import orjson

from ugc.traffic.items import INVALID, MALFORMED, TrafficItem

KINDS = ("malformed_json", "unknown_type", "missing_field", "wrong_type", "bad_value")
_WEIGHTS = (20, 15, 25, 25, 15)
UNKNOWN_TYPES = ("rating_given", "scroll", "page_leave", "Element_Click", "film-added")

#: v1 ``data`` fields that are required, per type (kept here, checked against the registry
#: by the unit tests)
_REQUIRED_V1 = {
    "element_click": ("element_type", "page_type"),
    "page_view_start": ("page_view_id", "page_type"),
    "page_view_end": ("page_view_id", "page_type"),
    "quality_change": ("video_id", "old_quality", "new_quality"),
    "video_complete": ("video_id", "duration_total"),
    "search_filter": ("search_query", "filters"),
    "like": ("film_id", "action"),
    "film_added": ("vendor_id", "film_id", "title"),
}
_REQUIRED_V2 = {
    "click": ("element", "page_url", "timestamp", "country", "device"),
    "page_view": ("page_url", "timestamp", "device"),
    "search_filter_use": ("filter_type", "filter_value", "timestamp"),
    "quality_change": ("video_id", "from_quality", "to_quality", "current_time"),
    "video_complete": ("video_id", "duration", "timestamp"),
}
_WRONG_TYPES: dict[str, Any] = {
    # v1 data fields
    "element_type": 7,
    "page_type": ["movie"],
    "page_view_id": 12345,
    "video_id": 8,
    "old_quality": "720",
    "new_quality": "1080p",
    "position_s": "3600",
    "duration_total": "yes",
    "duration_s": 12.5,
    "search_query": {"q": "matrix"},
    "filters": ["genre=drama"],
    "film_id": 42,
    "action": True,
    "vendor_id": 17,
    "title": None,
    "genres": "drama",
    "release_year": "1999",
    # v2 event fields
    "element": 3,
    "page_url": 1,
    "from_quality": True,
    "to_quality": 7.5,
    "current_time": "61",
    "duration": "long",
    "filter_type": 1,
    "filter_value": 5,
}
_BAD_VALUES: dict[str, Any] = {
    "page_view_id": "not-a-uuid",
    "old_quality": 0,
    "new_quality": -720,
    "position_s": -5,
    "action": "love",
    "content_type": "podcast",
    "release_year": 1800,
    "from_quality": "HD-ish",
    "current_time": -1,
    "duration": -60,
}


def corrupt(item: TrafficItem, rng: random.Random) -> TrafficItem:
    """A broken copy of a valid ``item`` (its kind drawn from ``_WEIGHTS``)."""
    kind = rng.choices(KINDS, _WEIGHTS)[0]
    payload = copy.deepcopy(item.payload)
    if kind == "malformed_json":
        return dataclasses.replace(
            item,
            body=_malformed(item.body, rng),
            expected_status=MALFORMED,
            reason=kind,
            payload=None,
        )
    if kind == "unknown_type":
        _set_type(payload, rng.choice(UNKNOWN_TYPES))
    elif kind == "missing_field":
        target, names = _fields(payload, _REQUIRED_V1, _REQUIRED_V2)
        del target[rng.choice([n for n in names if n in target])]
    elif kind == "wrong_type":
        if not _replace(payload, _WRONG_TYPES, rng):
            kind = "unknown_type"
            _set_type(payload, rng.choice(UNKNOWN_TYPES))
    elif kind == "bad_value" and not _replace(payload, _BAD_VALUES, rng):
        # no field with a checked value: break a time instead
        if isinstance(payload["event"], dict):
            payload["sent_at"] = "yesterday"
        else:
            payload["event_at"] = "not a time at all"
    return dataclasses.replace(
        item, body=orjson.dumps(payload), expected_status=INVALID, reason=kind, payload=payload
    )


def _malformed(body: bytes, rng: random.Random) -> bytes:
    variant = rng.randrange(3)
    if variant == 0:
        return body[: rng.randrange(1, len(body) - 1)]  # a prefix of an object is never JSON
    if variant == 1:
        return body[:-1] + b",}"
    return body.replace(b'"', b"'")


def _set_type(payload: dict[str, Any], name: str) -> None:
    if isinstance(payload["event"], dict):
        payload["event"]["event_type"] = name
    else:
        payload["event"] = name


def _fields(
    payload: dict[str, Any], v1: dict[str, tuple[str, ...]], v2: dict[str, tuple[str, ...]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The object holding the type's fields, and the names of interest in it."""
    if isinstance(payload["event"], dict):
        return payload["event"], v2[payload["event"]["event_type"]]
    return payload["data"], v1[payload["event"]]


def _replace(payload: dict[str, Any], table: dict[str, Any], rng: random.Random) -> bool:
    target = payload["event"] if isinstance(payload["event"], dict) else payload["data"]
    names = [name for name in target if name in table]
    if not names:
        return False
    name = rng.choice(names)
    target[name] = table[name]
    return True
