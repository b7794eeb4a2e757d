"""The loader's fast checks agree with the reference (marshmallow) schema of the record.

Fast acceptance must imply reference acceptance with identical column values; anything the
fast check does not accept is decided by the reference itself, so the router's verdict equals
the reference verdict on every record here, valid or not.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from marshmallow import ValidationError

from tests.support.warehouse import canonical_record
from ugc.etl.reference import load_record
from ugc.etl.route import Router, _TypeRoute
from ugc.etl.validate import fast_check, ts_ok
from ugc.events import REGISTRY

WRONG_VALUES = [-1, 1.5, True, "", "x", ["a"], {"a": 1}]
BAD_TIMES = [
    "2026-11-23T18:32:56Z",
    "2026-11-23 18:32:56.123Z",
    "2026-11-23T18:32:56.123+00:00",
    "2026-13-01T00:00:00.000Z",
    "2026-02-30T00:00:00.000Z",
    "2026-11-23T24:00:00.000Z",
    "2026-11-23T18:60:00.000Z",
    "1999-12-31T23:59:59.999Z",
    "2100-01-01T00:00:00.000Z",
    "２026-11-23T18:32:56.123Z",
]
GOOD_TIMES = ["2000-01-01T00:00:00.000Z", "2099-12-31T23:59:59.999Z", "2024-02-29T12:00:00.000Z"]
UUIDS = [
    "3F0C9D3E-3A4B-4F6E-9D43-0D6B7B2F9A10",
    "{3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10}",
    "3f0c9d3e3a4b4f6e9d430d6b7b2f9a10",
    "3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a1",
    "not-a-uuid",
]


class FakeMessage:
    def __init__(self, value: bytes, key: bytes | None, offset: int = 0) -> None:
        self._value, self._key, self._offset = value, key, offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


def _block_values(event_type_name: str, record: dict[str, Any]) -> list[list[Any]]:
    route = _TypeRoute(REGISTRY.get(event_type_name))
    values = route.values([record], check=False)
    block = route.block(values, [FakeMessage(b"", None)], 0, "2026-11-23T00:00:00.000Z", "run")
    return [list(column) for column in block.data]


def _reference(record: Any, name: str) -> tuple[bool, Any]:
    try:
        return True, load_record(copy.deepcopy(record), REGISTRY.get(name))
    except ValidationError as exc:
        return False, exc.messages


def _valid_records() -> list[dict[str, Any]]:
    records = []
    when = datetime(2026, 11, 23, 18, 32, 56, 123000, tzinfo=UTC)
    for event_type in REGISTRY:
        records.append(canonical_record(event_type.name, received_at=when))
        records.append(canonical_record(event_type.name, session_id=None, context={}))
        bare = canonical_record(event_type.name)
        for spec in event_type.fields:
            if not spec.required:
                bare["data"].pop(spec.name, None)
        records.append(bare)
    return records


def _mutations(record: dict[str, Any]) -> list[dict[str, Any]]:
    name = record["event_type"]
    spec = REGISTRY.get(name)
    out = []

    def put(path: tuple[str, ...], value: Any, delete: bool = False) -> None:
        changed = copy.deepcopy(record)
        target = changed
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if delete:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        out.append(changed)

    top = [k for k in record if k not in ("event_type", "data", "context")]
    paths = [(k,) for k in top] + [("context", k) for k in record["context"]]
    paths += [("data", f.name) for f in spec.fields] + [("context",), ("data",)]
    for path in paths:
        put(path, None, delete=True)
        for value in WRONG_VALUES:
            put(path, value)
        put(path, "y" * 65)
        put(path, "y" * 257)
    for key in ("received_at", "event_at", "client_event_at", "client_sent_at"):
        for value in BAD_TIMES + GOOD_TIMES:
            put((key,), value)
    for value in UUIDS:
        put(("event_id",), value)
    for f in spec.fields:
        if f.kind == "string":
            put(("data", f.name), "é" * f.max_length)
            put(("data", f.name), "é" * (f.max_length + 1))
        if f.kind == "int":
            for bound in (f.minimum, f.maximum):
                if bound is not None:
                    for delta in (-1, 0, 1):
                        put(("data", f.name), bound + delta)
            put(("data", f.name), 2**70)
        if f.kind == "uuid":
            for value in UUIDS:
                put(("data", f.name), value)
        if f.kind == "strings":
            put(("data", f.name), ["a"] * 100)
            put(("data", f.name), ["a"] * 101)
            put(("data", f.name), ["a", 1])
            put(("data", f.name), ["a", None])
            put(("data", f.name), ["z" * (f.max_length + 1)])
    put(("data", "surprise"), 1)
    put(("surprise",), 1)
    put(("context", "surprise"), 1)
    put(("schema_version",), 65535)
    put(("schema_version",), 65536)
    put(("user_id",), "u")
    put(("identity_source",), "auth_service")
    put(("envelope",), "v2")
    put(("envelope",), "v3")
    return out


def _all_cases() -> list[dict[str, Any]]:
    cases = []
    for record in _valid_records():
        cases.append(record)
        cases.extend(_mutations(record))
    return cases


CASES = _all_cases()
_VERDICTS: dict[int, tuple[bool, Any]] = {}


def verdict(index: int) -> tuple[bool, Any]:
    """The reference verdict on ``CASES[index]``, computed once (marshmallow is slow)."""
    if index not in _VERDICTS:
        record = CASES[index]
        _VERDICTS[index] = _reference(record, record["event_type"])
    return _VERDICTS[index]


def test_there_are_many_cases_of_both_kinds():
    verdicts = [verdict(i)[0] for i in range(len(CASES))]
    assert len(CASES) > 2000
    assert 300 < sum(verdicts) < len(CASES) - 1000


@pytest.mark.parametrize("event_type", REGISTRY.names())
def test_fast_acceptance_implies_reference_acceptance_with_the_same_values(event_type):
    check = fast_check(REGISTRY.get(event_type))
    for index, record in enumerate(CASES):
        if record["event_type"] == event_type and check(record):
            ok, normalised = verdict(index)
            assert ok, (record, normalised)
            assert _block_values(event_type, record) == _block_values(event_type, normalised)


@pytest.mark.parametrize("event_type", REGISTRY.names())
def test_a_chunk_passes_the_column_check_exactly_when_each_record_passes_the_fast_check(
    event_type,
):
    route = _TypeRoute(REGISTRY.get(event_type))
    valid = [r for r in _valid_records() if r["event_type"] == event_type]
    assert route.values(copy.deepcopy(valid), check=True) is not None
    cases = [r for r in CASES if r["event_type"] == event_type]
    for case in cases:
        for chunk in ([case], [*valid, case, *valid]):
            accepted = route.values(copy.deepcopy(chunk), check=True) is not None
            assert accepted == route.check(case), case


@pytest.mark.parametrize(
    ("field", "values", "ok"),
    [
        # one day: the first and the last value stand for every hour between them
        ("received_at", ["2026-11-23T00:00:00.000Z", "2026-11-23T23:59:59.999Z"], True),
        ("received_at", ["2026-11-23T00:00:00.000Z", "2026-11-23T24:00:00.000Z"], False),
        ("received_at", ["2026-02-29T00:00:00.000Z", "2026-02-29T01:00:00.000Z"], False),
        ("received_at", ["2026-11-23T18:06:00.000Z", "2026-11-23T18:00:60.000Z"], False),
        # several days: every hour is looked at
        ("received_at", ["2026-11-22T23:00:00.000Z", "2026-11-23T00:00:00.000Z"], True),
        ("received_at", ["2026-11-22T25:00:00.000Z", "2026-11-23T00:00:00.000Z"], False),
        # lengths that line up only in the concatenation
        ("received_at", ["2026-11-23T18:00:00.000", "Z2026-11-23T18:00:00.000Z"], False),
        (
            "event_id",
            ["3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a1", "03f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10"],
            False,
        ),
        (
            "event_id",
            ["3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10", "3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a1é"],
            False,
        ),
        # a letter where a digit belongs, between valid values
        ("received_at", [*["2026-11-23T18:00:00.000Z"] * 2, "2026-11-23T18:0d:00.000Z"], False),
        (
            "received_at",
            ["2026-11-23T00:00:00.000Z", "2026-11-23T18:00:00.00dZ", "2026-11-23T23:00:00.000Z"],
            False,
        ),
        ("event_id", ["3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9ah0"], False),
        ("user_id", ["u", None], False),
        ("session_id", ["s", None], True),
    ],
)
def test_the_column_check_on_whole_columns(field, values, ok):
    route = _TypeRoute(REGISTRY.get("like"))
    records = [dict(canonical_record("like"), **{field: value}) for value in values]
    assert (route.values(records, check=True) is not None) is ok
    assert all(route.check(r) for r in records) is ok


def _messages(records: list[Any]) -> list[FakeMessage]:
    return [
        FakeMessage(orjson.dumps(r), str(r.get("event_type")).encode(), i)
        for i, r in enumerate(records)
    ]


def _python(values: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: column.to_pylist() if hasattr(column, "to_pylist") else list(column)
        for name, column in values.items()
    }


@pytest.mark.parametrize("event_type", REGISTRY.names())
def test_arrow_parses_collector_records_into_the_same_values(event_type):
    route = _TypeRoute(REGISTRY.get(event_type))
    valid = [r for r in _valid_records() if r["event_type"] == event_type]
    valid.append(canonical_record(event_type, user_id="zoë, 日本"))  # UTF-8 beyond ASCII
    arrow = route.arrow_values(_messages(valid))
    assert arrow is not None
    python = route.values(copy.deepcopy(valid), check=False)
    assert _python(arrow) == _python(python)


@pytest.mark.parametrize("event_type", REGISTRY.names())
def test_arrow_accepts_a_chunk_only_when_each_record_passes_the_fast_check(event_type):
    route = _TypeRoute(REGISTRY.get(event_type))
    valid = [r for r in _valid_records() if r["event_type"] == event_type]
    cases = [r for r in CASES if r["event_type"] == event_type]
    refused_good = 0
    for case in cases:
        try:
            messages = _messages([*valid, case, *valid])
        except TypeError:  # orjson will not write it (an integer beyond 64 bits)
            continue
        accepted = route.arrow_values(messages) is not None
        assert not accepted or route.check(case), case
        refused_good += route.check(case) and not accepted
    # stricter only where the schema is: fields the record should not have
    assert refused_good <= len(cases) // 10


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1} {"b": 2}',  # two objects in one message ...
        b"   ",  # ... and one with none: the same number of rows
        b'{"event_type": "like"}\n',
        b'{"event_type": "like"}\r{"event_type": "like"}',
        b'{"event_id": "\\ud800"}',
        # bytes that are not UTF-8 in free text: Arrow would take them as they are
        orjson.dumps(canonical_record("like")).replace(b'"user-1"', b'"\xff"'),
        orjson.dumps(canonical_record("like")).replace(b'"user-1"', b'"\xed\xa0\x80"'),
        b'{"event_id": "\xff"}',
        b'{"event_type": "like", "event_type": "like"}',
        b"[]",
        b"",
        None,
    ],
)
def test_arrow_leaves_odd_messages_to_the_record_by_record_path(raw):
    route = _TypeRoute(REGISTRY.get("like"))
    good = _messages([canonical_record("like")])
    assert route.arrow_values([*good, FakeMessage(raw, b"like"), *good]) is None
    assert (
        route.arrow_values([FakeMessage(b'{"a": 1} {"b": 2}', b"like"), FakeMessage(raw, b"like")])
        is None
    )
    routed = Router(REGISTRY, "t").route([*good, FakeMessage(raw, b"like", 9)], 0, "run", "x")
    assert (routed.loaded, routed.dead_lettered) == (1, 1)


def test_the_column_check_refuses_a_record_whose_type_is_not_the_routes():
    route = _TypeRoute(REGISTRY.get("like"))
    record = canonical_record("like")
    assert route.values([record], check=True) is not None
    assert route.values([record, dict(record, event_type="liked")], check=True) is None


def test_every_collector_record_takes_the_fast_path():
    for record in _valid_records():
        assert fast_check(REGISTRY.get(record["event_type"]))(record), record


def test_the_router_verdict_is_the_reference_verdict():
    router = Router(REGISTRY, "t")
    messages = [
        FakeMessage(json.dumps(r).encode(), r["event_type"].encode(), offset)
        for offset, r in enumerate(CASES)
    ]
    routed = router.route(messages, 0, "run", "2026-11-23T00:00:00.000Z")
    expected = sum(verdict(i)[0] for i in range(len(CASES)))
    assert routed.loaded == expected
    assert routed.dead_lettered == len(CASES) - expected
    # orjson refuses integers beyond 64 bits (bad_json); the reference refuses them too
    assert set(routed.reasons) <= {"invalid", "bad_json"}
    dead_offsets = set(routed.dead.data[2])
    for offset in range(len(CASES)):
        assert (offset not in dead_offsets) == verdict(offset)[0]


def test_normalised_values_from_the_slow_path_are_loaded():
    record = canonical_record("page_view_start")
    record["event_id"] = record["event_id"].upper()
    router = Router(REGISTRY, "t")
    routed = router.route(
        [FakeMessage(orjson.dumps(record), b"page_view_start")],
        0,
        "run",
        "2026-11-23T00:00:00.000Z",
    )
    [block] = routed.blocks
    assert list(block.data[0]) == [record["event_id"].lower()]


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        (b"{nope", b"like", "bad_json"),
        (b"", b"like", "bad_json"),
        (None, b"like", "bad_json"),
        (b"[1, 2]", b"like", "not_an_object"),
        (b'"text"', b"like", "not_an_object"),
        (b'{"event_type": "teleport"}', b"teleport", "unknown_type"),
        (b'{"event_type": 5}', b"like", "invalid"),
        (b"\xff\xfe{", b"like", "bad_json"),
    ],
)
def test_unloadable_messages_become_dead_letters(raw, key, reason):
    routed = Router(REGISTRY, "t").route(
        [FakeMessage(raw, key, 7)], 3, "run", "2026-11-23T00:00:00.000Z"
    )
    assert routed.loaded == 0 and routed.reasons == {reason: 1}
    row = dict(zip(routed.dead.columns, (c[0] for c in routed.dead.data), strict=True))
    assert (row["kafka_partition"], row["kafka_offset"], row["reason"]) == (3, 7, reason)
    if raw == b"\xff\xfe{":
        assert (row["payload"], row["payload_encoding"]) == ("//57", "base64")


def test_key_must_match_the_event_type():
    key, value = b"video_complete", orjson.dumps(canonical_record("like"))
    routed = Router(REGISTRY, "t").route([FakeMessage(value, key)], 0, "run", "x")
    assert routed.reasons == {"key_mismatch": 1}
    routed = Router(REGISTRY, "t").route([FakeMessage(value, None)], 0, "run", "x")
    assert routed.reasons == {"key_mismatch": 1}


def test_ts_ok_matches_the_canonical_format():
    assert all(ts_ok(t) for t in GOOD_TIMES)
    assert not any(ts_ok(t) for t in BAD_TIMES)
