"""The dead-letter rate: messages the ETL could not load, against everything it wrote.

Both sides are counted by when the message reached Kafka, like the other checks: events by
``received_at`` (the collector stamps it as it publishes), dead letters by ``kafka_timestamp``
(they may have no readable time of their own). A dead letter written twice (a re-run) counts
once, by its position.
``where`` breaks the dead letters down by reason with their first positions.
"""

from __future__ import annotations

from typing import Any

from ugc.quality.checks.base import SAMPLE, Finding, Scope
from ugc.quality.checks.profile import profiles

COLUMNS = ("dead_letters", "loaded", "rate")


def reasons_sql(scope: Scope) -> str:
    return (
        "SELECT reason, count() AS n, groupArray(" + str(SAMPLE) + ")((p, o, event_type)) FROM ("
        "SELECT reason, kafka_partition AS p, kafka_offset AS o, any(event_type) AS event_type "
        f"FROM {scope.layout.dead_letters} WHERE topic = %(topic)s AND "
        f"{scope.in_window('kafka_timestamp')} GROUP BY reason, p, o ORDER BY p, o) "
        "GROUP BY reason ORDER BY n DESC, reason"
    )


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    loaded = sum(p.rows for p in profiles(scope).values())
    where: list[dict[str, Any]] = []
    dead = 0
    if scope.has(scope.layout.dead_letters):
        for reason, n, sample in scope.warehouse.query(
            reasons_sql(scope), {**scope.bounds, "topic": scope.topic}
        ):
            dead += int(n)
            where.append(
                {
                    "reason": reason,
                    "dead_letters": int(n),
                    "first": [
                        {"partition": int(p), "offset": int(o), "event_type": t}
                        for p, o, t in sample
                    ],
                }
            )
    total = dead + loaded
    record = {"dead_letters": dead, "loaded": loaded, "rate": (dead / total) if total else 0.0}
    result = pd.DataFrame.from_records([record], columns=list(COLUMNS))
    return Finding(result, where, dict(record))
