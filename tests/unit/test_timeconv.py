"""ISO text -> epoch integers for clickhouse-driver: Python lists and Arrow columns agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from ugc.adapters.clickhouse.timeconv import column_to_ms, column_to_s, iso_to_ms

TIMES = [
    "2026-11-23T18:32:56.123Z",
    "2024-02-29T00:00:00.000Z",
    "2000-01-01T00:00:00.000Z",
    "2099-12-31T23:59:59.999Z",
    None,
]


def test_a_python_list_and_an_arrow_column_give_the_same_integers():
    expected = [
        None if t is None else int(datetime.fromisoformat(t).timestamp() * 1000) for t in TIMES
    ]
    assert column_to_ms(TIMES) == expected
    assert column_to_ms(pa.array(TIMES)) == expected
    assert column_to_ms(pa.chunked_array([pa.array(TIMES)])) == expected
    assert column_to_s(pa.array(TIMES)) == column_to_s(TIMES)
    assert column_to_s(TIMES) == [None if v is None else v // 1000 for v in expected]


def test_other_iso_forms_take_the_slow_path():
    moment = datetime(2026, 11, 23, 18, 32, 56, 123000, tzinfo=UTC)
    assert iso_to_ms("2026-11-23T18:32:56.123+00:00") == int(moment.timestamp() * 1000)
    assert iso_to_ms("2026-11-23T18:32:56.123") == int(moment.timestamp() * 1000)
