"""Where a partition's read starts and ends, and when the ledger contradicts the broker."""

from __future__ import annotations

import pytest

from ugc.errors import ConfigError, IntegrityError
from ugc.etl.ledger import Position, ms_to_iso
from ugc.etl.plan import plan_partition


def _position(next_offset: int) -> Position:
    return Position(0, next_offset, next_offset - 1, "run", None, 0)


def plan(low=0, high=100, position=None, since_offset=None, since_ms=None, replay=False):
    return plan_partition(
        "t", 0, low, high, position, since_offset=since_offset, since_ms=since_ms, replay=replay
    )


def test_the_ledger_position_wins_over_since():
    got = plan(position=_position(40), since_offset=10, since_ms=1)
    assert (got.mode, got.start, got.end, got.skip_before_ms) == ("ledger", 40, 100, None)


def test_since_where_the_ledger_has_nothing():
    got = plan(since_offset=10, since_ms=5)
    assert (got.mode, got.start, got.skip_before_ms) == ("since", 10, 5)
    assert plan(since_offset=None, since_ms=5).start == 100  # past the end: nothing to read
    assert plan().mode == "beginning" and plan(low=7).start == 7


def test_replay_restarts_from_since_and_needs_it():
    got = plan(position=_position(90), since_offset=3, since_ms=1, replay=True)
    assert (got.mode, got.start, got.ledger_position) == ("replay", 3, 90)
    with pytest.raises(ConfigError, match="--since"):
        plan(position=_position(90), replay=True)


@pytest.mark.parametrize(("position", "low", "high", "words"), [
    (120, 0, 100, "log ends at 100"),
    (5, 10, 100, "log now starts at 10"),
])  # fmt: skip
def test_a_position_outside_the_log_is_an_integrity_error(position, low, high, words):
    with pytest.raises(IntegrityError, match=words) as caught:
        plan(low=low, high=high, position=_position(position))
    assert "--replay --since" in caught.value.one_line()


def test_positions_at_the_edges_are_fine():
    assert plan(position=_position(100)).start == 100
    assert plan(low=10, position=_position(10)).start == 10


def test_kafka_timestamps_render_canonically():
    assert ms_to_iso(1_732_386_776_123) == "2024-11-23T18:32:56.123Z"
    assert ms_to_iso(-1) == "1970-01-01T00:00:00.000Z"
