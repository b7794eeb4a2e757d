"""``ugc etl status``: per partition, the ledger position, the broker's end, the lag, the last run."""

from __future__ import annotations

from typing import Any

from ugc.adapters.clickhouse import connect
from ugc.adapters.kafka.consumer import PartitionReader
from ugc.etl.ledger import Ledger, RunLog
from ugc.settings import Settings


def etl_status(settings: Settings) -> dict[str, Any]:
    topic = settings.kafka_topic
    with connect(settings.warehouse_url) as warehouse:
        positions = Ledger(warehouse).positions(topic)
        last_run = RunLog.last(warehouse, topic)
        url = warehouse.url
    with PartitionReader(settings.kafka_bootstrap, topic, settings.etl_group) as reader:
        partitions = reader.partitions() or []
        watermarks = reader.all_watermarks(partitions)
        committed_at = reader.committed(partitions) if partitions else {}
        rows = []
        for partition in sorted(set(partitions) | set(positions)):
            position = positions.get(partition)
            low, high = watermarks.get(partition, (None, None))
            committed = committed_at.get(partition)
            at = position.next_offset if position else None
            rows.append(
                {
                    "partition": partition,
                    "ledger_position": at,
                    "low_watermark": low,
                    "high_watermark": high,
                    "lag": None if high is None else high - (at if at is not None else low),
                    "group_committed": committed,
                    "last_loaded_at": str(position.written_at) if position else None,
                    "last_run_id": position.last_run if position else None,
                    "problem": _problem(at, low, high),
                }
            )
    return {
        "topic": topic,
        "warehouse": url,
        "group": settings.etl_group,
        "topic_exists": partitions is not None,
        "lag": sum(r["lag"] or 0 for r in rows),
        "partitions": rows,
        "last_run": last_run,
    }


def _problem(position: int | None, low: int | None, high: int | None) -> str | None:
    if high is None:
        return "partition missing on the broker" if position is not None else None
    if position is not None and position > high:
        return "ledger ahead of the broker: offsets went backwards (see docs/etl.md)"
    if position is not None and low is not None and position < low:
        return "messages deleted before they were loaded (retention)"
    return None
