"""Sample events for ``ugc events send``: the registry's examples, or JSON lines a user wrote."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from ugc.events import REGISTRY, Registry, format_ts
from ugc.traffic.items import ACCEPTED, JSON, MALFORMED, TrafficItem


def sample_items(
    types: Iterable[str] = (),
    registry: Registry = REGISTRY,
    token: str | None = None,
    now: datetime | None = None,
) -> list[TrafficItem]:
    """One v1 event per registered type (or per name in ``types``), built from the examples.

    Raises ``KeyError`` naming an unknown type.
    """
    names = list(types) or registry.names()
    moment = now or datetime.now(UTC)
    items = []
    for name in names:
        event_type = registry.get(name)
        event_id = str(uuid.uuid4())
        payload: dict[str, Any] = {
            "event": name,
            "token": token,
            "event_id": event_id,
            "event_at": format_ts(moment),
            "sent_at": format_ts(moment),
            "data": event_type.example(),
        }
        items.append(
            TrafficItem(
                body=orjson.dumps(payload),
                content_type=JSON,
                expected_status=ACCEPTED,
                event_type=name,
                event_id=event_id,
                event_at=moment,
                payload=payload,
            )
        )
    return items


def items_from_lines(lines: Iterable[bytes | str]) -> Iterator[TrafficItem]:
    """One item per non-empty line, sent exactly as written (so broken lines can be tried).

    Nothing is assumed about validity: ``expected_status`` is 200 for a line that parses as
    JSON and 400 for one that does not; the collector's answer is what ``send`` reports.
    """
    for raw in lines:
        line = raw.encode() if isinstance(raw, str) else raw
        line = line.strip()
        if not line:
            continue
        try:
            payload = orjson.loads(line)
        except orjson.JSONDecodeError:
            payload = None
        name, event_id = _describe(payload)
        yield TrafficItem(
            body=line,
            content_type=JSON,
            expected_status=ACCEPTED if payload is not None else MALFORMED,
            event_type=name,
            event_id=event_id,
            reason="valid" if payload is not None else "malformed_json",
            payload=payload,
        )


def _describe(payload: Any) -> tuple[str, str | None]:
    if not isinstance(payload, dict):
        return "?", None
    event = payload.get("event")
    if isinstance(event, dict):
        event = event.get("event_type")
    event_id = payload.get("event_id")
    return (
        event if isinstance(event, str) else "?",
        event_id if isinstance(event_id, str) else None,
    )
