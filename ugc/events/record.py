"""The canonical record: the one JSON shape every accepted event takes in Kafka.

::

    {
      "event_id": "uuid",               client-supplied (idempotency key) or made here
      "event_type": "element_click",    also the Kafka message key
      "schema_version": 1,
      "envelope": "v1" | "v2",          which request shape it arrived in
      "user_id": "…" | "anonymous",     only ever a verified identity
      "claimed_user_id": "…" | null,    what the client said, kept apart, never trusted
      "identity_source": "auth_service" | "cache" | "local" | "anonymous" | "invalid",
      "session_id": "…" | null,         client-supplied, or the token's session claim
      "received_at": "2026-11-23T18:32:56.123Z",   server UTC, milliseconds
      "client_event_at": "…" | null,    the client's clock: when it happened
      "client_sent_at": "…" | null,     the client's clock: when it was sent
      "event_at": "…",                  skew-corrected: received - (sent - event), never future
      "context": {"country", "device", "page_url", "referrer", "user_agent"},
      "data": {…}                       the type's own fields, validated
    }

The token is never part of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ugc.events.registry import EventType

IDENTITY_SOURCES = ("auth_service", "cache", "local", "anonymous", "invalid")
ANONYMOUS = "anonymous"
CONTEXT_FIELDS = ("country", "device", "page_url", "referrer", "user_agent")

#: top-level names of the record; a type's field may not reuse them (they become columns too)
RESERVED_NAMES = (
    "event_id",
    "event_type",
    "schema_version",
    "envelope",
    "user_id",
    "claimed_user_id",
    "identity_source",
    "session_id",
    "received_at",
    "client_event_at",
    "client_sent_at",
    "event_at",
    *CONTEXT_FIELDS,
    "kafka_partition",
    "kafka_offset",
    "loaded_at",
    "load_run_id",
)


@dataclass(frozen=True)
class Identity:
    """Who sent an event, as far as the collector could verify."""

    user_id: str = ANONYMOUS
    source: str = "anonymous"
    session_id: str | None = None
    #: seconds since the epoch when the verified token expires (for cache TTLs)
    expires_at: float | None = None


@dataclass
class Incoming:
    """A validated event, before identity and enrichment. Built by ``ugc.events.envelopes``."""

    event_type: EventType
    data: dict[str, Any]
    envelope: str = "v1"
    token: str | None = None
    event_id: str | None = None
    session_id: str | None = None
    claimed_user_id: str | None = None
    client_event_at: datetime | None = None
    client_sent_at: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)


def format_ts(moment: datetime) -> str:
    """``2026-11-23T18:32:56.123Z``: UTC, milliseconds."""
    tz = moment.tzinfo
    if tz is not None and tz is not UTC and moment.utcoffset():
        moment = moment.astimezone(UTC)
    # isoformat() is several times faster than strftime, and faster with no timespec:
    # "2026-11-23T18:32:56.123456+00:00" (or without ".123456" when it is zero) -> cut there
    if moment.microsecond:
        return moment.isoformat()[:23] + "Z"
    return moment.isoformat()[:19] + ".000Z"


def new_event_id() -> str:
    """A random (version 4) UUID as text, about twice as fast as ``str(uuid.uuid4())``."""
    h = os.urandom(16).hex()
    # version nibble 4; variant bits 10xx (one of 8, 9, a, b)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def parse_ts(text: str) -> datetime:
    """Inverse of ``format_ts``; accepts any ISO 8601 with an offset or ``Z``."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def corrected_event_time(
    received_at: datetime, client_event_at: datetime | None, client_sent_at: datetime | None
) -> datetime:
    """The event time on the server's clock.

    With both client times: ``received - (sent - event)``, which cancels the client clock's
    offset (the formula Segment, RudderStack, PostHog and Snowplow use). With only the event
    time, trust it. Either way a time in the future is clamped to the receive time.
    """
    if client_event_at is not None and client_sent_at is not None:
        moment = received_at - (client_sent_at - client_event_at)
    elif client_event_at is not None:
        moment = client_event_at
    else:
        moment = received_at
    return min(moment, received_at)


def build_record(
    incoming: Incoming,
    identity: Identity,
    received_at: datetime,
    user_agent: str | None = None,
) -> dict[str, Any]:
    """Assemble the canonical record (see the module docstring)."""
    given = incoming.context
    context = {
        "country": given.get("country"),
        "device": given.get("device"),
        "page_url": given.get("page_url"),
        "referrer": given.get("referrer"),
        "user_agent": user_agent[:512] if user_agent else None,
    }
    event_at = corrected_event_time(received_at, incoming.client_event_at, incoming.client_sent_at)
    received = format_ts(received_at)
    return {
        "event_id": incoming.event_id or new_event_id(),
        "event_type": incoming.event_type.name,
        "schema_version": incoming.event_type.version,
        "envelope": incoming.envelope,
        "user_id": identity.user_id,
        "claimed_user_id": incoming.claimed_user_id,
        "identity_source": identity.source,
        "session_id": incoming.session_id or identity.session_id,
        "received_at": received,
        "client_event_at": _maybe_ts(incoming.client_event_at),
        "client_sent_at": _maybe_ts(incoming.client_sent_at),
        "event_at": received if event_at == received_at else format_ts(event_at),
        "context": context,
        "data": incoming.data,
    }


def _maybe_ts(moment: datetime | None) -> str | None:
    return None if moment is None else format_ts(moment)


def utcnow() -> datetime:
    return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
