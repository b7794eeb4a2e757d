"""Wire conversions for clickhouse-driver (ISO text -> epoch integers, UUID text -> UUIDs):
Python lists and Arrow columns agree, and agree with the standard library."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ugc.adapters.clickhouse.native import column_to_uuid
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


@pytest.mark.parametrize(
    "text",
    [
        "3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10",
        "3F0C9D3E-3A4B-4F6E-9D43-0D6B7B2F9A10",
        "3f0c9d3e3a4b4f6e9d430d6b7b2f9a10",
        "{3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10}",
        "urn:uuid:3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a10",
    ],
)
def test_uuid_text_becomes_the_uuid_the_driver_would_make(text):
    [fast] = column_to_uuid([text])
    assert fast == uuid.UUID(text) and fast.int == uuid.UUID(text).int
    assert column_to_uuid(pa.array([text, None])) == [uuid.UUID(text), None]


@pytest.mark.parametrize("text", ["not-a-uuid", "3f0c9d3e-3a4b-4f6e-9d43-0d6b7b2f9a1g", ""])
def test_text_that_is_no_uuid_is_refused_as_the_driver_would(text):
    with pytest.raises(ValueError):
        column_to_uuid([text])
