"""ISO 8601 text -> epoch integers, fast for the canonical ``2026-11-23T18:32:56.123Z``.

clickhouse-driver takes raw integers for DateTime (seconds) and DateTime64(3) (milliseconds)
and skips its own per-value timezone work; the date-and-hour prefix repeats across a batch,
so its epoch value is cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=4096)
def _hour_ms(prefix: str) -> int:
    return int(datetime.fromisoformat(prefix + ":00:00+00:00").timestamp()) * 1000


def iso_to_ms(text: str) -> int:
    if len(text) == 24 and text[23] == "Z" and text[19] == ".":
        return (
            _hour_ms(text[:13])
            + int(text[14:16]) * 60000
            + int(text[17:19]) * 1000
            + int(text[20:23])
        )
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def column_to_ms(values: list[str | None]) -> list[int | None]:
    return [None if v is None else iso_to_ms(v) for v in values]


def column_to_s(values: list[str | None]) -> list[int | None]:
    return [None if v is None else iso_to_ms(v) // 1000 for v in values]
