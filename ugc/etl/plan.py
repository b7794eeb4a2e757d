"""Where each partition's read starts and ends, decided once at the start of a run.

* start: the ledger position; ``--since`` (via ``offsets_for_times``) for a partition the
  ledger has never seen, or for every partition with ``--replay``; otherwise the log's start.
* end: the high watermark when the run starts (later messages wait for the next run).

A ledger position outside ``[low, high]`` means the broker's offsets no longer match what was
loaded (the topic was recreated, the broker lost its state, or retention deleted messages
before they were loaded). That is reported as ``IntegrityError`` and never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ugc.errors import ConfigError, IntegrityError
from ugc.etl.ledger import Position


@dataclass
class PartitionPlan:
    partition: int
    start: int
    end: int
    low: int
    #: "ledger", "since", "replay" or "beginning"
    mode: str
    #: skip messages older than this (ms) until the first one that is not (``--since``)
    skip_before_ms: int | None = None
    ledger_position: int | None = None

    @property
    def pending(self) -> int:
        return max(self.end - self.start, 0)


def to_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def backwards_error(
    topic: str, partition: int, position: int, low: int, high: int
) -> IntegrityError:
    if position > high:
        what = (
            f"the ledger has loaded {topic}[{partition}] up to offset {position}, but the broker's "
            f"log ends at {high}: the topic was recreated or the broker lost its state"
        )
    else:
        what = (
            f"the ledger has loaded {topic}[{partition}] up to offset {position}, but the broker's "
            f"log now starts at {low}: messages {position}..{low - 1} were deleted before they "
            "were loaded (retention) or the topic was recreated"
        )
    return IntegrityError(
        what,
        hint=(
            "nothing was loaded; check the broker, then re-read from a known time with "
            "`ugc etl run --replay --since TS` (duplicates are harmless: readers see each event once)"
        ),
    )


def plan_partition(
    topic: str,
    partition: int,
    low: int,
    high: int,
    position: Position | None,
    *,
    since_offset: int | None,
    since_ms: int | None,
    replay: bool,
) -> PartitionPlan:
    """``since_offset`` is ``offsets_for_times(since)`` (``None`` past the end)."""
    if replay:
        if since_ms is None:
            raise ConfigError("--replay needs --since: say from when to re-read")
        start = high if since_offset is None else min(max(since_offset, low), high)
        return PartitionPlan(partition, start, high, low, "replay", since_ms, _pos(position))
    if position is not None:
        if not low <= position.next_offset <= high:
            raise backwards_error(topic, partition, position.next_offset, low, high)
        return PartitionPlan(
            partition, position.next_offset, high, low, "ledger", None, position.next_offset
        )
    if since_ms is not None:
        start = high if since_offset is None else min(max(since_offset, low), high)
        return PartitionPlan(partition, start, high, low, "since", since_ms)
    return PartitionPlan(partition, low, high, low, "beginning")


def _pos(position: Position | None) -> int | None:
    return None if position is None else position.next_offset
