"""The collector's domain: validate, identify, enrich, store. No HTTP here.

``collect`` handles one event, ``collect_batch`` many (valid ones stored, invalid ones
reported by index), ``check`` / ``check_batch`` are the dry run behind ``/validate``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ugc.collector.delivery import Delivery
from ugc.collector.metrics import Metrics
from ugc.collector.ports import IdentityResolver
from ugc.errors import PayloadTooLarge, Unavailable, ValidationFailed
from ugc.events import Identity, Incoming, Registry, build_record, normalise

UNKNOWN = "unknown"


@dataclass
class BatchResult:
    """Per index: the event id of an accepted event, or the errors of a refused one."""

    event_ids: list[str | None]
    errors: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: indexes that were valid but could not be stored (Kafka and spool both unavailable)
    unavailable: Unavailable | None = None

    @property
    def accepted(self) -> int:
        return sum(1 for event_id in self.event_ids if event_id is not None)

    @property
    def rejected(self) -> int:
        return len(self.event_ids) - self.accepted

    def body(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "event_ids": self.event_ids,
            "errors": self.errors,
        }


class Collector:
    def __init__(
        self,
        *,
        registry: Registry,
        identity: IdentityResolver,
        delivery: Delivery,
        metrics: Metrics,
        max_event_bytes: int,
        max_batch_events: int,
    ) -> None:
        self.registry = registry
        self.identity = identity
        self.delivery = delivery
        self.metrics = metrics
        self.max_event_bytes = max_event_bytes
        self.max_batch_events = max_batch_events
        self._keys = {t.name: t.name.encode() for t in registry}

    # ------------------------------------------------------------------ one event
    async def collect(
        self, payload: Any, *, token: str | None = None, user_agent: str | None = None
    ) -> str:
        """Store one event; its event id. Raises ``ValidationFailed`` / ``Unavailable``."""
        incoming = normalise(payload, self.registry)  # refusals are counted by the HTTP layer
        identity = await self._resolve(incoming.token or token)
        return await self._store(incoming, identity, user_agent)

    async def _resolve(self, token: str | None) -> Identity:
        identity = await self.identity.resolve(token)
        self.metrics.source(identity.source)
        return identity

    async def _store(self, incoming: Incoming, identity: Identity, user_agent: str | None) -> str:
        record = build_record(incoming, identity, datetime.now(UTC), user_agent)
        name = incoming.event_type.name
        key = self._keys.get(name) or name.encode()
        via = await self.delivery.store(key, orjson.dumps(record))
        self.metrics.accept(name, via)
        return record["event_id"]

    def type_label(self, payload: Any) -> str:
        """The event type for metrics labels; only registered names (bounded cardinality)."""
        name = payload.get("event") if isinstance(payload, dict) else None
        if isinstance(name, dict):
            name = name.get("event_type")
        return name if isinstance(name, str) and name in self.registry else UNKNOWN

    # ------------------------------------------------------------------ batches
    def unpack_batch(self, document: Any) -> list[Any]:
        """``{"events": [...]}`` or a bare list -> the events; 422 / 413 otherwise."""
        events = document.get("events") if isinstance(document, dict) else document
        if not isinstance(events, list):
            raise ValidationFailed(
                'a batch is {"events": [...]} or a JSON array',
                {"events": ["Expected a list of events."]},
            )
        if not events:
            raise ValidationFailed("the batch is empty", {"events": ["Send at least one event."]})
        if len(events) > self.max_batch_events:
            raise PayloadTooLarge(
                f"a batch holds at most {self.max_batch_events} events, got {len(events)}",
                limit=self.max_batch_events,
            )
        return events

    def _validate_all(
        self, events: Sequence[Any]
    ) -> tuple[list[tuple[int, Incoming]], dict[str, dict[str, list[str]]]]:
        valid: list[tuple[int, Incoming]] = []
        errors: dict[str, dict[str, list[str]]] = {}
        for index, payload in enumerate(events):
            if len(orjson.dumps(payload)) > self.max_event_bytes:
                errors[str(index)] = {
                    "_schema": [f"Event larger than {self.max_event_bytes} bytes."]
                }
                self.metrics.reject(self.type_label(payload), "payload_too_large")
                continue
            try:
                valid.append((index, normalise(payload, self.registry)))
            except ValidationFailed as exc:
                errors[str(index)] = exc.errors
                self.metrics.reject(self.type_label(payload), exc.code)
        return valid, errors

    async def collect_batch(
        self, document: Any, *, token: str | None = None, user_agent: str | None = None
    ) -> BatchResult:
        events = self.unpack_batch(document)
        valid, errors = self._validate_all(events)
        result = BatchResult(event_ids=[None] * len(events), errors=errors)
        identities: dict[str | None, Identity] = {}
        for _index, incoming in valid:
            wanted = incoming.token or token
            if wanted not in identities:
                identities[wanted] = await self.identity.resolve(wanted)
        # tasks start in order, so records are produced (and spooled) in batch order
        outcomes = await asyncio.gather(
            *(
                self._store_one(incoming, identities[incoming.token or token], user_agent)
                for _index, incoming in valid
            ),
            return_exceptions=True,
        )
        for (index, incoming), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, Unavailable):
                self.metrics.reject(incoming.event_type.name, outcome.code)
                outcome.counted = True  # type: ignore[attr-defined]
                result.unavailable = outcome
                result.errors[str(index)] = {"_unavailable": [outcome.message]}
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                result.event_ids[index] = outcome
        return result

    async def _store_one(
        self, incoming: Incoming, identity: Identity, user_agent: str | None
    ) -> str:
        self.metrics.source(identity.source)
        return await self._store(incoming, identity, user_agent)

    # ------------------------------------------------------------------ dry runs
    def check(self, payload: Any) -> dict[str, Any]:
        """Validate one event; the record it would become (anonymous; token not checked)."""
        incoming = normalise(payload, self.registry)
        record = build_record(incoming, Identity(), datetime.now(UTC))
        return {"valid": True, "event_type": incoming.event_type.name, "record": record}

    def check_batch(self, document: Any) -> BatchResult:
        events = self.unpack_batch(document)
        result = BatchResult(event_ids=[None] * len(events))
        for index, payload in enumerate(events):
            try:
                result.event_ids[index] = self.check(payload)["record"]["event_id"]
            except ValidationFailed as exc:
                result.errors[str(index)] = exc.errors
        return result
