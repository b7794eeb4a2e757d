"""Turn a batch of Kafka messages into column blocks: one per event table, one of dead letters.

Messages go to their event type by the Kafka key (the collector keys by type). Each type's
share of a chunk is then checked as a whole, by the first of these that accepts it:

1. Arrow: its JSON reader parses the chunk against the type's schema, in C++ and without the
   GIL, and ``ArrowCheck`` applies the rules to the columns (``ugc.etl.validate``);
2. orjson parses it, and ``ChunkCheck`` applies the same rules to whole columns of values;
3. record by record (``Router._sift``): the type's fast check and, only when that does not
   accept the record outright, the reference schema.

None of them accepts a record the fast check refuses (Arrow refuses a few more: records with
fields its schema lacks, which the next step then takes), so the verdict is always the fast
check's (``tests/unit/test_etl_validate.py``); only the last step finds which records fail.
Whatever cannot be loaded becomes a dead letter with a reason: ``bad_json``,
``not_an_object``, ``unknown_type``, ``key_mismatch``, ``invalid``. Nothing read is dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from marshmallow import ValidationError

from ugc.errors import flatten_errors
from ugc.etl.ledger import ms_to_iso
from ugc.etl.reference import load_record
from ugc.etl.validate import ArrowCheck, ChunkCheck, fast_check
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
_VALUE, _OFFSET = methodcaller("value"), methodcaller("offset")
#: a message already dead-lettered while parsing
_DEAD = object()
#: one block for the whole chunk, parsed on this thread (the other core inserts)
_ARROW_READ = pj.ReadOptions(use_threads=False, block_size=64 << 20)
_NO_STRINGS = pa.scalar([], pa.list_(pa.string()))


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
    """Per event type: its checks, its key and where each column's value comes from."""

    def __init__(self, event_type: EventType) -> None:
        self.event_type = event_type
        self.key = event_type.name.encode()
        self.check: Callable[[dict[str, Any]], bool] = fast_check(event_type)
        self.chunk_check = ChunkCheck(event_type)
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
        self.arrow_check = ArrowCheck(event_type)
        self._arrow_parse = pj.ParseOptions(
            explicit_schema=self.arrow_check.schema,
            unexpected_field_behavior="error",
            newlines_in_values=False,
        )

    def arrow_values(self, messages: list[Any]) -> dict[str, Any] | None:
        """The table's record columns as Arrow arrays, parsed by Arrow in one go; ``None``
        when Arrow cannot parse the chunk or a record fails a check (``ArrowCheck``)."""
        try:
            joined = b"\n".join(map(_VALUE, messages))
        except TypeError:  # a message without a value
            return None
        # one JSON object per line, one line per message: Arrow's rows are the messages
        n = len(messages)
        if joined[:1] != b"{" or joined.count(b"\n") != n - 1 or joined.count(b"\n{") != n - 1:
            return None
        try:
            if not joined.isascii():  # Arrow does not check the bytes of strings; orjson does
                joined.decode("utf-8")
            table = pj.read_json(
                pa.py_buffer(joined), read_options=_ARROW_READ, parse_options=self._arrow_parse
            )
        except (pa.ArrowException, ValueError):  # not UTF-8, not JSON, another type, ...
            return None
        flat = self.arrow_check.flat(table) if table.num_rows == n else None
        if flat is None:
            return None
        values: dict[str, Any] = dict(zip(flat.column_names, flat.columns, strict=True))
        for name in self._strings:
            values[name] = pc.fill_null(values[name], _NO_STRINGS)
        for name in self._flags:
            values[name] = values[name].cast(pa.uint8())
        return values

    def values(self, records: list[dict[str, Any]], *, check: bool) -> dict[str, Any] | None:
        """The table's record columns, by name; with ``check``, ``None`` unless every record
        passes ``fast_check`` (tested column by column: ``ChunkCheck``)."""
        contexts = list(map(dict.get, records, repeat("context")))
        datas = list(map(dict.get, records, repeat("data")))
        if check and not self.chunk_check.shape(contexts, datas):
            return None
        if None in contexts:
            contexts = [_EMPTY if c is None else c for c in contexts]
        values = {
            **_transpose(records, self._top),
            **_transpose(contexts, self._context),
            **_transpose(datas, self._data),
        }
        if check and (
            values["event_type"].count(self.event_type.name) != len(records)
            or not self.chunk_check.columns(values)
        ):
            return None
        for name in self._strings:
            values[name] = [[] if v is None else v for v in values[name]]
        for name in self._flags:
            values[name] = [None if v is None else int(v) for v in values[name]]
        return values

    def block(
        self, values: dict[str, Any], messages: list[Any], partition: int, at: str, run_id: str
    ) -> Block:
        n = len(messages)
        values["kafka_partition"] = [partition] * n
        values["kafka_offset"] = list(map(_OFFSET, messages))
        values["loaded_at"] = [at] * n
        values["load_run_id"] = [run_id] * n
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
    """Reusable across batches; ``route`` is the loader's hot path.

    Messages go to their type by the Kafka key (the collector's key is the event type); each
    type's share of a chunk is parsed and checked as a whole (``_TypeRoute.arrow_values``,
    else ``_python_values``), and only a share that fails somewhere is checked record by
    record (``_sift``) to dead-letter the culprits.
    """

    def __init__(self, registry: Registry, topic: str) -> None:
        self.topic = topic
        self._routes = {t.name: _TypeRoute(t) for t in registry}
        self._by_key = {route.key: route for route in self._routes.values()}

    def route(self, messages: Sequence[Any], partition: int, run_id: str, loaded_at: str) -> Routed:
        groups: dict[bytes, list[Any]] = {key: [] for key in self._by_key}
        strays = []
        for message in messages:
            group = groups.get(message.key())
            if group is None:
                strays.append(message)
            else:
                group.append(message)
        dead: list[tuple[Any, str, str, str, str]] = []
        for message in strays:  # no event type's key: a dead letter, the record says why
            record = self._parse(message, dead)
            if record is not _DEAD:
                misfit = self._misfit(message, record)
                assert misfit is not None
                dead.append(misfit)
        routed = Routed()
        for key, group in groups.items():
            if not group:
                continue
            route = self._by_key[key]
            values = route.arrow_values(group)
            if values is None:
                group, values = self._python_values(route, group, dead)
            if values is None:
                continue
            block = route.block(values, group, partition, loaded_at, run_id)
            routed.blocks.append(block)
            routed.loaded += block.rows
        if dead:
            routed.dead = self._dead_block(dead, partition, run_id, loaded_at)
            routed.dead_lettered = len(dead)
            for item in dead:
                routed.reasons[item[1]] = routed.reasons.get(item[1], 0) + 1
        return routed

    @staticmethod
    def _parse(message: Any, dead: list[tuple[Any, str, str, str, str]]) -> Any:
        try:
            return orjson.loads(message.value())
        except (orjson.JSONDecodeError, TypeError) as exc:
            dead.append((message, "bad_json", str(exc), "", ""))
            return _DEAD

    def _misfit(self, message: Any, record: Any) -> tuple[Any, str, str, str, str] | None:
        """Why ``record`` cannot go where its key says; ``None`` when it can."""
        if type(record) is not dict:
            return _not_an_object(message)
        name = record.get("event_type")
        route = self._routes.get(name) if type(name) is str else None
        if route is None:
            return _unknown(message, record, name)
        if message.key() != route.key:
            key = message.key()
            text = key.decode("utf-8", "replace") if key is not None else None
            return (
                message,
                "key_mismatch",
                f"message key {text!r} is not the record's event_type {name!r}",
                name,
                _event_id(record),
            )
        return None

    def _sift(
        self,
        route: _TypeRoute,
        records: list[dict[str, Any]],
        messages: list[Any],
        dead: list[tuple[Any, str, str, str, str]],
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        """Record by record: the fast check, else the reference schema's verdict."""
        kept: list[dict[str, Any]] = []
        kept_messages: list[Any] = []
        for record, message in zip(records, messages, strict=True):
            misfit = self._misfit(message, record)
            if misfit is not None:
                dead.append(misfit)
                continue
            if not route.check(record):
                try:
                    record = load_record(record, route.event_type)
                except ValidationError as exc:
                    errors = orjson.dumps(flatten_errors(exc.messages)).decode()
                    dead.append(
                        (message, "invalid", errors, route.event_type.name, _event_id(record))
                    )
                    continue
            kept.append(record)
            kept_messages.append(message)
        return kept, kept_messages

    def _python_values(
        self, route: _TypeRoute, messages: list[Any], dead: list[tuple[Any, str, str, str, str]]
    ) -> tuple[list[Any], dict[str, Any] | None]:
        """The chunk Arrow refused: parsed by orjson, checked column by column, and only when
        that fails, record by record."""
        try:
            records = list(map(orjson.loads, map(_VALUE, messages)))
        except (orjson.JSONDecodeError, TypeError):
            records = [self._parse(message, dead) for message in messages]
        if set(map(type, records)) != {dict}:  # the rest are dead letters
            kept = []
            for record, message in zip(records, messages, strict=True):
                if type(record) is dict:
                    kept.append((record, message))
                elif record is not _DEAD:
                    dead.append(_not_an_object(message))
            records, messages = [r for r, _ in kept], [m for _, m in kept]
            if not records:
                return messages, None
        values = route.values(records, check=True)
        if values is None:
            records, messages = self._sift(route, records, messages, dead)
            if not records:
                return messages, None
            values = route.values(records, check=False)
        return messages, values

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


def _not_an_object(message: Any) -> tuple[Any, str, str, str, str]:
    return (message, "not_an_object", "a record must be a JSON object", "", "")


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
