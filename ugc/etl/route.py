"""Turn a batch of Kafka messages into column blocks: one per event table, one of dead letters.

Per message: parse (orjson), find the type by the record's ``event_type``, check the Kafka key
matches it, run the type's fast check (``ugc.etl.validate``) and, only when that does not
accept the record outright, the reference schema. Whatever cannot be loaded becomes a dead
letter with a reason: ``bad_json``, ``not_an_object``, ``unknown_type``, ``key_mismatch``,
``invalid``. Nothing read is dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson
from marshmallow import ValidationError

from ugc.errors import flatten_errors
from ugc.etl.ledger import ms_to_iso
from ugc.etl.reference import load_record
from ugc.etl.validate import fast_check
from ugc.events.columns import LOAD_COLUMNS, Column, table_columns
from ugc.events.registry import EventType, Registry

DEAD_LETTERS = "dead_letters"
DEAD_LETTER_COLUMNS = (
    "topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_key",
    "kafka_timestamp",
    "reason",
    "error",
    "event_type",
    "event_id",
    "payload",
    "payload_encoding",
    "dead_lettered_at",
    "load_run_id",
)
_EMPTY: dict[str, Any] = {}


@dataclass
class Block:
    """Column-wise rows for one table."""

    table: str
    columns: tuple[str, ...]
    data: list[list[Any]]

    @property
    def rows(self) -> int:
        return len(self.data[0]) if self.data else 0


@dataclass
class Routed:
    blocks: list[Block] = field(default_factory=list)
    dead: Block | None = None
    loaded: int = 0
    dead_lettered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Tally:
    """The counts of one batch routed in chunks, without holding on to the chunks' rows."""

    loaded: int = 0
    dead_lettered: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, routed: Routed) -> None:
        self.loaded += routed.loaded
        self.dead_lettered += routed.dead_lettered
        for block in routed.blocks:
            self.tables[block.table] = self.tables.get(block.table, 0) + block.rows
        for reason, count in routed.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


class _TypeRoute:
    """Per event type: its check, its key and where each column's value comes from."""

    def __init__(self, event_type: EventType) -> None:
        self.event_type = event_type
        self.key = event_type.name.encode()
        self.check: Callable[[dict[str, Any]], bool] = fast_check(event_type)
        self.columns: tuple[Column, ...] = table_columns(event_type)
        loader = {c.name for c in LOAD_COLUMNS}
        by = lambda source: tuple(  # noqa: E731
            c.name for c in self.columns if c.source == source and c.name not in loader
        )
        self._top, self._context, self._data = by(""), by("context"), by("data")
        self._strings = tuple(c.name for c in self.columns if c.logical == "strings")
        self._flags = tuple(
            c.name for c in self.columns if c.source == "data" and c.logical == "uint8"
        )
        self.records: list[dict[str, Any]] = []
        self.offsets: list[int] = []

    def block(self, partition: int, loaded_at: str, run_id: str) -> Block:
        records, n = self.records, len(self.records)
        contexts = [r.get("context") or _EMPTY for r in records]
        datas = [r["data"] for r in records]
        values = {
            **_transpose(records, self._top),
            **_transpose(contexts, self._context),
            **_transpose(datas, self._data),
            "kafka_partition": [partition] * n,
            "kafka_offset": self.offsets,
            "loaded_at": [loaded_at] * n,
            "load_run_id": [run_id] * n,
        }
        for name in self._strings:
            values[name] = [[] if v is None else v for v in values[name]]
        for name in self._flags:
            values[name] = [None if v is None else int(v) for v in values[name]]
        self.records, self.offsets = [], []
        names = tuple(c.name for c in self.columns)
        return Block(self.event_type.table, names, [values[name] for name in names])


def _transpose(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    """Column-wise values of ``names``: one C-level itemgetter per row when every row has every
    key (records from the collector do), ``dict.get`` per value otherwise."""
    if not names:
        return {}
    if len(names) > 1:
        try:
            columns = zip(*map(itemgetter(*names), rows), strict=True)
            return dict(zip(names, columns, strict=True))
        except KeyError:
            pass
    return {name: [row.get(name) for row in rows] for name in names}


class Router:
    """Reusable across batches; ``route`` is the loader's hot path."""

    def __init__(self, registry: Registry, topic: str) -> None:
        self.topic = topic
        self._routes = {t.name: _TypeRoute(t) for t in registry}

    def route(self, messages: Sequence[Any], partition: int, run_id: str, loaded_at: str) -> Routed:
        routes = self._routes
        loads = orjson.loads
        dead: list[tuple[Any, str, str, str, str]] = []
        for message in messages:
            try:
                record = loads(message.value())
            except (orjson.JSONDecodeError, TypeError) as exc:
                dead.append((message, "bad_json", str(exc), "", ""))
                continue
            if type(record) is not dict:
                dead.append((message, "not_an_object", "a record must be a JSON object", "", ""))
                continue
            name = record.get("event_type")
            route = routes.get(name) if type(name) is str else None
            if route is None:
                dead.append(_unknown(message, record, name))
                continue
            if message.key() != route.key:
                key = message.key()
                text = key.decode("utf-8", "replace") if key is not None else None
                dead.append(
                    (
                        message,
                        "key_mismatch",
                        f"message key {text!r} is not the record's event_type {name!r}",
                        name,
                        _event_id(record),
                    )
                )
                continue
            if not route.check(record):
                try:
                    record = load_record(record, route.event_type)
                except ValidationError as exc:
                    errors = orjson.dumps(flatten_errors(exc.messages)).decode()
                    dead.append((message, "invalid", errors, name, _event_id(record)))
                    continue
            route.records.append(record)
            route.offsets.append(message.offset())
        return self._collect(dead, partition, run_id, loaded_at)

    def _collect(
        self, dead: list[tuple[Any, str, str, str, str]], partition: int, run_id: str, at: str
    ) -> Routed:
        routed = Routed()
        for route in self._routes.values():
            if route.records:
                block = route.block(partition, at, run_id)
                routed.blocks.append(block)
                routed.loaded += block.rows
        if dead:
            routed.dead = self._dead_block(dead, partition, run_id, at)
            routed.dead_lettered = len(dead)
            for item in dead:
                routed.reasons[item[1]] = routed.reasons.get(item[1], 0) + 1
        return routed

    def _dead_block(
        self, dead: list[tuple[Any, str, str, str, str]], partition: int, run_id: str, at: str
    ) -> Block:
        rows = []
        for message, reason, error, event_type, event_id in dead:
            payload, encoding = _payload_text(message.value())
            key = message.key()
            rows.append(
                (
                    self.topic,
                    partition,
                    message.offset(),
                    None if key is None else key.decode("utf-8", "replace"),
                    ms_to_iso(message.timestamp()[1]),
                    reason,
                    error,
                    event_type,
                    event_id,
                    payload,
                    encoding,
                    at,
                    run_id,
                )
            )
        return Block(
            DEAD_LETTERS, DEAD_LETTER_COLUMNS, [list(col) for col in zip(*rows, strict=True)]
        )


def _unknown(message: Any, record: dict[str, Any], name: Any) -> tuple[Any, str, str, str, str]:
    if type(name) is str:
        return (
            message,
            "unknown_type",
            f"unknown event type {name[:64]!r}",
            name[:64],
            _event_id(record),
        )
    return (
        message,
        "invalid",
        '{"event_type": ["Missing or not a string."]}',
        "",
        _event_id(record),
    )


def _event_id(record: Any) -> str:
    value = record.get("event_id") if isinstance(record, dict) else None
    return value[:64] if isinstance(value, str) else ""


def _payload_text(raw: bytes | None) -> tuple[str, str]:
    """The payload as text, or base64 when it is not UTF-8 (no byte is lost either way)."""
    if raw is None:
        return "", "utf8"
    try:
        return raw.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), "base64"
