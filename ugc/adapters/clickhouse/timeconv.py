"""ISO 8601 text -> epoch integers, fast for the canonical ``2026-11-23T18:32:56.123Z``.

clickhouse-driver takes raw integers for DateTime (seconds) and DateTime64(3) (milliseconds)
and skips its own per-value timezone work. The date-to-second prefix repeats across a batch
(a busy second holds thousands of events), so its epoch value is cached and a value costs one
dict lookup and one ``int``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ugc.adapters.clickhouse.base import ARROW_COLUMN

_UTC_MS = pa.timestamp("ms", tz="UTC")


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


#: ``2026-11-23T18:32:56`` -> epoch ms of that second; cleared when it grows past the limit
_SECONDS: dict[str, int] = {}
_SECONDS_MAX = 200_000


def _second_ms(prefix: str) -> int:
    if len(_SECONDS) >= _SECONDS_MAX:
        _SECONDS.clear()
    ms = _SECONDS[prefix] = (
        _hour_ms(prefix[:13]) + int(prefix[14:16]) * 60000 + int(prefix[17:19]) * 1000
    )
    return ms


def column_to_ms(values: Any) -> list[int | None]:
    """``iso_to_ms`` of each value (None stays None), the canonical form inlined; an Arrow
    column is cast by Arrow."""
    if isinstance(values, ARROW_COLUMN):
        return pc.cast(values, _UTC_MS).cast(pa.int64()).to_pylist()
    seconds = _SECONDS
    out: list[int | None] = []
    append = out.append
    for v in values:
        if v is None:
            append(None)
        elif len(v) == 24 and v[23] == "Z" and v[19] == ".":
            second = seconds.get(v[:19])
            if second is None:
                second = _second_ms(v[:19])
            append(second + int(v[20:23]))
        else:
            append(iso_to_ms(v))
    return out


def column_to_s(values: Any) -> list[int | None]:
    return [None if v is None else v // 1000 for v in column_to_ms(values)]
