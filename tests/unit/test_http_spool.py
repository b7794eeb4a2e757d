"""The collector's durable spool: records, torn tails, the cap, adoption, ordered replay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest

from ugc.collector.spool import Spool, decode, encode
from ugc.errors import BrokerUnavailable, SpoolFull


class Broker:
    """Records what was published; fails the values listed in ``failing``."""

    def __init__(self, failing: Iterable[bytes] = ()) -> None:
        self.failing = set(failing)
        self.published: list[bytes] = []

    async def publish(self, key: bytes, value: bytes) -> None:
        await asyncio.sleep(0)
        if value in self.failing:
            raise BrokerUnavailable("down")
        self.published.append(value)


def fill(spool: Spool, values: Iterable[bytes]) -> None:
    async def go() -> None:
        for value in values:
            await spool.append(b"like", value)

    asyncio.run(go())


def values(n: int) -> list[bytes]:
    return [f"event-{i:04d}".encode() for i in range(n)]


def test_records_round_trip_and_a_torn_tail_is_ignored() -> None:
    buffer = encode(b"like", b"one") + encode(b"like", b"two")
    torn = buffer + encode(b"like", b"three")[:-2]
    assert [(k, v) for _o, k, v in decode(torn)] == [(b"like", b"one"), (b"like", b"two")]
    corrupt = bytearray(buffer)
    corrupt[-1] ^= 0xFF
    assert [v for _o, _k, v in decode(bytes(corrupt))] == [b"one"]


def test_append_then_drain_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20, segment_bytes=64)  # tiny segments: many files
    spool.open()
    fill(spool, values(50))
    assert spool.records == 50
    assert len(list(tmp_path.glob("*.seg"))) > 5
    broker = Broker()
    assert asyncio.run(spool.drain(broker.publish)) is True
    assert broker.published == values(50)
    assert spool.records == 0 and spool.bytes == 0
    assert list(tmp_path.glob("*.seg")) == []
    spool.close()
    assert list(tmp_path.iterdir()) == []


def test_the_cap_raises_spool_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 200)
    spool.open()
    fill(spool, values(5))
    with pytest.raises(SpoolFull):
        fill(spool, [b"x" * 200])
    disabled = Spool(tmp_path / "off", 0)
    with pytest.raises(SpoolFull):
        fill(disabled, [b"x"])


def test_an_unwritable_directory_is_spool_full(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    spool = Spool(blocker / "spool", 1 << 20)
    with pytest.raises(SpoolFull):
        fill(spool, [b"x"])


def test_a_failed_replay_resumes_without_duplicates(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.open()
    fill(spool, values(20))
    broker = Broker(failing=[b"event-0005"])
    assert asyncio.run(spool.drain(broker.publish)) is False
    first = list(broker.published)
    assert b"event-0005" not in first
    broker.failing.clear()
    assert asyncio.run(spool.drain(broker.publish)) is True
    assert sorted(broker.published) == values(20)  # every record exactly once
    assert len(broker.published) == 20
    spool.close()


def test_a_live_workers_files_are_never_adopted_a_dead_ones_are(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20)
    first.open()
    fill(first, values(10))
    second = Spool(tmp_path, 1 << 20)
    second.open()
    assert second.adopt_orphans() == 0  # first holds its lock

    first.close()  # the worker "died": its segments stay, its lock is free
    segment = next(tmp_path.glob(f"{first.tag}.*.seg"))
    with segment.open("ab") as handle:  # and it died mid-write
        handle.write(encode(b"like", b"torn")[:-3])

    assert second.adopt_orphans() == 1
    third = Spool(tmp_path, 1 << 20)
    third.open()
    assert third.adopt_orphans() == 0  # second holds the dead worker's lock now

    broker = Broker()
    assert asyncio.run(second.drain(broker.publish)) is True
    assert broker.published == values(10)
    assert not list(tmp_path.glob(f"{first.tag}*"))
    second.close()
    third.close()


def test_replay_progress_survives_a_crash_mid_segment(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20)
    first.open()
    fill(first, values(10))
    broker = Broker(failing=[b"event-0007"])
    assert asyncio.run(first.drain(broker.publish)) is False
    delivered = list(broker.published)
    first.close()  # crash after partial replay

    second = Spool(tmp_path, 1 << 20)
    second.open()
    second.adopt_orphans()
    assert second.records == 10 - len(delivered)
    broker.failing.clear()
    assert asyncio.run(second.drain(broker.publish)) is True
    assert sorted(broker.published) == values(10)
    second.close()
