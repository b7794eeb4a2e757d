"""Fast per-type checks of the canonical record, generated from the registry.

marshmallow costs tens of microseconds a record; the loader has about ten for everything.
So each event type gets one generated function of plain comparisons (the technique
``dataclasses`` uses for ``__init__``) that *accepts* a record only when the reference schema
(``ugc.etl.reference``) certainly would, and leaves the value as it is (canonical UUIDs and
timestamps need no normalising). Anything it does not accept goes to the reference schema for
the verdict and the field errors, so the two cannot disagree on a rejection, and
``tests/unit/test_etl_validate.py`` checks that every fast acceptance is a reference acceptance
with identical values.

The same rules exist twice more, for whole columns at once: ``ChunkCheck`` on Python values
and ``ArrowCheck`` on Arrow columns. Each accepts a chunk only when the fast check accepts
every record of it, which the same tests check on every case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ugc.etl.reference import CONTEXT_LIMITS, ENVELOPES, ID_MAX
from ugc.events.columns import COMMON_COLUMNS
from ugc.events.fastpath import field_failure
from ugc.events.record import IDENTITY_SOURCES
from ugc.events.registry import EventType, Field
from ugc.events.schemas import EARLIEST, LATEST

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:[0-5]\d:[0-5]\d\.\d{3}Z").fullmatch
_HOURS: dict[str, bool] = {}


def _hour_ok(prefix: str) -> bool:
    try:
        moment = datetime.fromisoformat(prefix + ":00:00+00:00")
    except ValueError:
        ok = False
    else:
        ok = EARLIEST <= moment < LATEST
    if len(_HOURS) < 100_000:
        _HOURS[prefix] = ok
    return ok


def ts_ok(value: Any) -> bool:
    """A canonical timestamp (``2026-11-23T18:32:56.123Z``) in the accepted range."""
    if type(value) is not str or len(value) != 24 or not _TS(value):
        return False
    ok = _HOURS.get(value[:13])
    return _hour_ok(value[:13]) if ok is None else ok


def _text(expr: str, limit: int, *, nullable: bool, minimum: int = 0) -> list[str]:
    low = f"{minimum} <= " if minimum else ""
    test = f"type(v) is not str or not {low}len(v) <= {limit}"
    if nullable:
        test = f"v is not None and ({test})"
    return [f"v = {expr}", f"if {test}: return False"]


def _ts(expr: str, *, nullable: bool) -> list[str]:
    # ts_ok inlined: the hour cache answers for all but the first record of each hour
    test = "type(v) is not str or len(v) != 24 or not TS(v) or not (HOURS.get(v[:13]) or ts_ok(v))"
    if nullable:
        test = f"v is not None and ({test})"
    return [f"v = {expr}", f"if {test}: return False"]


def _common_lines() -> list[str]:
    lines = [
        'v = r.get("event_id")',
        "if type(v) is not str or not UUID(v): return False",
        'v = r.get("schema_version")',
        "if type(v) is not int or not 1 <= v <= 65535: return False",
        f'if r.get("envelope") not in {ENVELOPES!r}: return False',
        f'if r.get("identity_source") not in {tuple(IDENTITY_SOURCES)!r}: return False',
    ]
    lines += _text('r.get("user_id")', ID_MAX, nullable=False, minimum=1)
    lines += _text('r.get("claimed_user_id")', ID_MAX, nullable=True)
    lines += _text('r.get("session_id")', ID_MAX, nullable=True)
    lines += _ts('r.get("received_at")', nullable=False)
    lines += _ts('r.get("event_at")', nullable=False)
    lines += _ts('r.get("client_event_at")', nullable=True)
    lines += _ts('r.get("client_sent_at")', nullable=True)
    lines += [
        'c = r.get("context")',
        "if c is not None:",
        "    if type(c) is not dict: return False",
    ]
    for name, limit in CONTEXT_LIMITS.items():
        lines += ["    " + line for line in _text(f'c.get("{name}")', limit, nullable=True)]
    return lines


def _field_lines(spec: Field) -> list[str]:
    """The type's own fields: the same generated tests as the collector's fast path."""
    return [f'v = d.get("{spec.name}")', f"if {field_failure(spec)}: return False"]


def fast_check_source(event_type: EventType) -> str:
    body = [
        'd = r.get("data")',
        "if type(d) is not dict or not d.keys() <= KNOWN: return False",
    ]
    for spec in event_type.fields:
        body += _field_lines(spec)
    body += _common_lines()
    body.append("return True")
    return "def check(r):\n" + "\n".join("    " + line for line in body) + "\n"


def fast_check(event_type: EventType) -> Callable[[dict[str, Any]], bool]:
    """``check(record) -> bool``: True only for records the reference schema accepts as-is."""
    namespace: dict[str, Any] = {
        "UUID": _UUID,
        "ts_ok": ts_ok,
        "TS": _TS,
        "HOURS": _HOURS,
        "KNOWN": frozenset(f.name for f in event_type.fields),
    }
    exec(
        compile(fast_check_source(event_type), f"<fast_check {event_type.name}>", "exec"), namespace
    )  # noqa: S102 - source built from the registry only
    return namespace["check"]


# ---------------------------------------------------------------------- whole columns at once
#
# The per-record check above is Python bytecode for every field of every record: about four
# microseconds a record, the loader's biggest cost. The same rules hold for a whole column when
# they hold for its type set, its length range, its set of values: questions ``set``, ``map``,
# ``min`` and ``max`` answer in C. So a chunk of one type is checked column by column first,
# and only a chunk that fails somewhere is checked record by record to find the culprits.

Values = Sequence[Any]
ColumnTest = Callable[[Values], bool]
_NONE = type(None)


def _present(values: Values, nullable: bool) -> Values | None:
    """The values when their types are fine so far: ``None``s dropped when allowed; ``None``
    when a ``None`` is not allowed."""
    if _NONE in set(map(type, values)):
        return [v for v in values if v is not None] if nullable else None
    return values


def _of_type(values: Values, kind: type) -> bool:
    return set(map(type, values)) <= {kind}


def _texts(values: Values, nullable: bool) -> tuple[Values, str] | None:
    """The strings of a column and their concatenation; ``None`` when a value is not a string
    (``None``s are dropped when allowed). ``str.join`` is the quickest all-strings test."""
    try:
        return values, "".join(values)
    except TypeError:
        present = _present(values, nullable)
        if present is None or not _of_type(present, str):
            return None
        return present, "".join(present)


def _within(values: Values, low: int | None, high: int | None) -> bool:
    """Every value within ``[low, high]`` (``None``: unbounded); true of no values."""
    if not values:
        return True
    return (low is None or min(values) >= low) and (high is None or max(values) <= high)


def _text_test(limit: int, *, nullable: bool, minimum: int = 0) -> ColumnTest:
    def test(values: Values) -> bool:
        texts = _texts(values, nullable)
        return texts is not None and _within(list(map(len, texts[0])), minimum or None, limit)

    return test


def _shaped(texts: tuple[Values, str] | None, shape: bytes, table: bytes) -> Values | None:
    """The strings when every one has ``shape`` once ``table`` maps its characters (each
    string exactly ``len(shape)`` long, so the concatenation lines up)."""
    if texts is None:
        return None
    present, joined = texts
    if present and set(map(len, present)) != {len(shape)}:
        return None
    mapped = joined.encode("utf-8", "replace").translate(table)
    return present if mapped == shape * len(present) else None


#: the byte a digit becomes: 0xFF never occurs in UTF-8, so no other character can pass for one
_ANY = b"\xff"
_HEX = bytes.maketrans(b"0123456789abcdef", _ANY * 16)
_UUID_SHAPE = b"########-####-####-####-############".replace(b"#", _ANY)
_DIGITS = bytes.maketrans(b"0123456789", _ANY * 10)
_TS_SHAPE = b"####-##-##T##:##:##.###Z".replace(b"#", _ANY)


def _ts_test(*, nullable: bool) -> ColumnTest:
    """``ts_ok`` for a column: the canonical shape, minutes and seconds below 60, and every
    date and hour real and in range (one check when all the values fall on one day)."""
    hour = itemgetter(slice(0, 13))

    def test(values: Values) -> bool:
        texts = _texts(values, nullable)
        present = _shaped(texts, _TS_SHAPE, _DIGITS)
        if present is None:
            return False
        if not present:
            return True
        joined = texts[1]  # type: ignore[index]
        if max(joined[14::24]) > "5" or max(joined[17::24]) > "5":
            return False
        first, last = min(present), max(present)
        if first[:10] == last[:10]:  # one day: its hours lie between the first and the last
            return ts_ok(first) and ts_ok(last)
        return all(_HOURS.get(prefix) or _hour_ok(prefix) for prefix in set(map(hour, present)))

    return test


def _uuid_test(*, nullable: bool) -> ColumnTest:
    def test(values: Values) -> bool:
        return _shaped(_texts(values, nullable), _UUID_SHAPE, _HEX) is not None

    return test


def _int_test(minimum: int | None, maximum: int | None, *, nullable: bool) -> ColumnTest:
    def test(values: Values) -> bool:
        present = _present(values, nullable)
        return present is not None and _of_type(present, int) and _within(present, minimum, maximum)

    return test


def _choice_test(choices: tuple[str, ...], *, nullable: bool) -> ColumnTest:
    allowed = frozenset(choices)

    def test(values: Values) -> bool:
        texts = _texts(values, nullable)
        return texts is not None and set(texts[0]) <= allowed

    return test


def _bool_test(*, nullable: bool) -> ColumnTest:
    def test(values: Values) -> bool:
        present = _present(values, nullable)
        return present is not None and _of_type(present, bool)

    return test


def _strings_test(limit: int, *, nullable: bool) -> ColumnTest:
    def test(values: Values) -> bool:
        present = _present(values, nullable)
        if present is None or not _of_type(present, list):
            return False
        if not _within(list(map(len, present)), None, 100):
            return False
        items = list(chain.from_iterable(present))
        return _of_type(items, str) and _within(list(map(len, items)), None, limit)

    return test


@dataclass(frozen=True)
class _Flavour:
    """One implementation of every column rule: on Python values, or on Arrow columns."""

    text: Callable[..., Any]
    ts: Callable[..., Any]
    uuid: Callable[..., Any]
    integer: Callable[..., Any]
    boolean: Callable[..., Any]
    choice: Callable[..., Any]
    strings: Callable[..., Any]


def _field_test(spec: Field, flavour: _Flavour) -> Any:
    """The column version of ``field_failure``: the same rules, for every value at once."""
    nullable = not spec.required
    if spec.kind == "string":
        return flavour.text(spec.max_length, nullable=nullable)
    if spec.kind == "uuid":
        return flavour.uuid(nullable=nullable)
    if spec.kind == "int":
        return flavour.integer(spec.minimum, spec.maximum, nullable=nullable)
    if spec.kind == "bool":
        return flavour.boolean(nullable=nullable)
    if spec.kind == "enum":
        return flavour.choice(spec.choices, nullable=nullable)
    if spec.kind == "strings":
        return flavour.strings(spec.max_length, nullable=nullable)
    raise AssertionError(spec.kind)  # pragma: no cover - the registry refuses unknown kinds


def _tests(event_type: EventType, flavour: _Flavour) -> dict[str, Any]:
    """Every column ``fast_check`` looks at, by column name, with its test."""
    tests = {
        "event_id": flavour.uuid(nullable=False),
        "schema_version": flavour.integer(1, 65535, nullable=False),
        "envelope": flavour.choice(ENVELOPES, nullable=False),
        "identity_source": flavour.choice(tuple(IDENTITY_SOURCES), nullable=False),
        "user_id": flavour.text(ID_MAX, nullable=False, minimum=1),
        "claimed_user_id": flavour.text(ID_MAX, nullable=True),
        "session_id": flavour.text(ID_MAX, nullable=True),
        "received_at": flavour.ts(nullable=False),
        "event_at": flavour.ts(nullable=False),
        "client_event_at": flavour.ts(nullable=True),
        "client_sent_at": flavour.ts(nullable=True),
    }
    tests |= {name: flavour.text(limit, nullable=True) for name, limit in CONTEXT_LIMITS.items()}
    return tests | {f.name: _field_test(f, flavour) for f in event_type.fields}


_PYTHON = _Flavour(
    _text_test, _ts_test, _uuid_test, _int_test, _bool_test, _choice_test, _strings_test
)


class ChunkCheck:
    """``fast_check`` for many records of one type at once.

    ``shape(contexts, datas)`` holds when every ``context`` is an object or absent and every
    ``data`` an object of known fields; ``columns(values)`` when every column (the values of
    one field, in any order, absent ones as ``None``) passes. Both together hold only when
    ``fast_check`` holds for every record (``tests/unit/test_etl_validate.py``).
    """

    def __init__(self, event_type: EventType) -> None:
        self.known = frozenset(f.name for f in event_type.fields)
        self.tests: dict[str, ColumnTest] = _tests(event_type, _PYTHON)

    def shape(self, contexts: Values, datas: Values) -> bool:
        return (
            set(map(type, datas)) == {dict}
            and set(map(type, contexts)) <= {dict, _NONE}
            and self.known.issuperset(chain.from_iterable(datas))
        )

    def columns(self, values: dict[str, Values]) -> bool:
        return all(test(values[name]) for name, test in self.tests.items())


# ---------------------------------------------------------------------- chunks Arrow parsed
#
# Faster still: Arrow's JSON reader parses a chunk of one type straight into columns, in C++
# with the GIL released, against the type's schema. It refuses whatever does not fit the
# schema (a value of another JSON type, a field the schema lacks, a key given twice, a number
# beyond 64 bits), and the rest of the rules are vectorised compute functions. It does not
# check that strings are UTF-8: the router does, before. A chunk it refuses, or that fails a
# rule, takes the record-by-record path.

_ARROW_TS_SHAPE = r"^\d{4}-\d{2}-\d{2}T\d{2}:[0-5]\d:[0-5]\d\.\d{3}Z$"
_ARROW_UUID_SHAPE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST_MS = (EARLIEST - _EPOCH) // timedelta(milliseconds=1)
_LATEST_MS = (LATEST - _EPOCH) // timedelta(milliseconds=1)
ArrowTest = Callable[[pa.ChunkedArray], bool]


def _nulls_ok(column: pa.ChunkedArray, nullable: bool) -> bool:
    return nullable or column.null_count == 0


def _range_ok(values: pa.ChunkedArray, low: int | None, high: int | None) -> bool:
    """Every non-null value within ``[low, high]`` (``None``: unbounded)."""
    found = pc.min_max(values)
    if not found["min"].is_valid:
        return True
    return (low is None or found["min"].as_py() >= low) and (
        high is None or found["max"].as_py() <= high
    )


def _all_match(column: pa.ChunkedArray, pattern: str) -> bool:
    matched = pc.match_substring_regex(column, pattern)
    return (pc.sum(matched).as_py() or 0) == len(column) - column.null_count


def _arrow_text(limit: int, *, nullable: bool, minimum: int = 0) -> ArrowTest:
    def test(column: pa.ChunkedArray) -> bool:
        return _nulls_ok(column, nullable) and _range_ok(pc.utf8_length(column), minimum, limit)

    return test


def _arrow_ts(*, nullable: bool) -> ArrowTest:
    def test(column: pa.ChunkedArray) -> bool:
        if not _nulls_ok(column, nullable) or not _all_match(column, _ARROW_TS_SHAPE):
            return False
        try:  # the calendar: no 30 February, no hour 24
            moments = pc.cast(column, pa.timestamp("ms", tz="UTC")).cast(pa.int64())
        except pa.ArrowInvalid:
            return False
        return _range_ok(moments, _EARLIEST_MS, _LATEST_MS - 1)

    return test


def _arrow_uuid(*, nullable: bool) -> ArrowTest:
    def test(column: pa.ChunkedArray) -> bool:
        return _nulls_ok(column, nullable) and _all_match(column, _ARROW_UUID_SHAPE)

    return test


def _arrow_int(minimum: int | None, maximum: int | None, *, nullable: bool) -> ArrowTest:
    def test(column: pa.ChunkedArray) -> bool:
        return _nulls_ok(column, nullable) and _range_ok(column, minimum, maximum)

    return test


def _arrow_choice(choices: tuple[str, ...], *, nullable: bool) -> ArrowTest:
    allowed = pa.array(choices, pa.string())

    def test(column: pa.ChunkedArray) -> bool:
        found = pc.sum(pc.is_in(column, value_set=allowed)).as_py() or 0
        return _nulls_ok(column, nullable) and found == len(column) - column.null_count

    return test


def _arrow_bool(*, nullable: bool) -> ArrowTest:
    return lambda column: _nulls_ok(column, nullable)


def _arrow_strings(limit: int, *, nullable: bool) -> ArrowTest:
    def test(column: pa.ChunkedArray) -> bool:
        if not _nulls_ok(column, nullable):
            return False
        if not _range_ok(pc.list_value_length(column), None, 100):
            return False
        items = pc.list_flatten(column)
        return items.null_count == 0 and _range_ok(pc.utf8_length(items), None, limit)

    return test


_ARROW_KIND = {
    "string": pa.string(),
    "uuid": pa.string(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "enum": pa.string(),
    "strings": pa.list_(pa.string()),
}


_ARROW = _Flavour(
    _arrow_text, _arrow_ts, _arrow_uuid, _arrow_int, _arrow_bool, _arrow_choice, _arrow_strings
)
#: the canonical record's own fields, all text but ``schema_version``
_TOP_LEVEL = tuple(c.name for c in COMMON_COLUMNS if not c.source)


class ArrowCheck:
    """``ChunkCheck`` for a chunk Arrow parsed with ``schema``: ``columns(table)`` holds only
    when ``fast_check`` holds for every record (``tests/unit/test_etl_validate.py``).

    The schema has every field the canonical record has; Arrow refuses any other, which is
    stricter than ``fast_check`` (it lets unknown top-level and context fields pass): such a
    chunk takes the record-by-record path and gets ``fast_check``'s verdict there.
    """

    def __init__(self, event_type: EventType) -> None:
        self.name = event_type.name
        self.tests: dict[str, ArrowTest] = _tests(event_type, _ARROW)
        top = [
            (name, pa.int64() if name == "schema_version" else pa.string()) for name in _TOP_LEVEL
        ]
        context = pa.struct([(name, pa.string()) for name in CONTEXT_LIMITS])
        data = pa.struct([(f.name, _ARROW_KIND[f.kind]) for f in event_type.fields])
        self.schema = pa.schema([*top, ("context", context), ("data", data)])

    def flat(self, table: pa.Table) -> pa.Table | None:
        """The chunk as parsed, flattened (``country``, ``film_id``), when every record passes;
        ``None`` when one does not."""
        if table.column("data").null_count:  # ``data`` must be an object
            return None
        flat = table.flatten()
        flat = flat.rename_columns([name.rpartition(".")[2] for name in flat.column_names])
        names = flat.column("event_type")
        if names.null_count or pc.sum(pc.equal(names, self.name)).as_py() != len(flat):
            return None
        if not all(test(flat.column(name)) for name, test in self.tests.items()):
            return None
        return flat
