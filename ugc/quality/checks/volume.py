"""Time gaps: hours with no events, or far below their usual volume, per event type.

One aggregate query counts events per type per hour (by ``received_at``, the server's
clock: a collector or pipeline outage shows there). Python fills the empty hours and compares
each hour with the series' median hour. Only complete hours between the first and the last
hour that has any event are judged: hours after the newest event are freshness' concern, and
a series whose median hour is below ``min_hourly`` events is too thin to judge.

The frame has one row per hour, for all types together (``events``; ``judged_events`` and
``ratio`` to the median hour are empty when the series is too thin to judge) and how many
single types were silent or low in that hour; ``where`` names them.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from ugc.quality.checks.base import Finding, Scope, iso

COLUMNS = ("hour", "events", "judged_events", "usual", "ratio", "silent_types", "low_types")
HOUR = 3600
DEFAULTS = {"min_hourly": 10, "low_ratio": 0.2}


def hourly_sql(scope: Scope) -> str:
    return " UNION ALL ".join(
        f"SELECT '{t.name}' AS event_type, toUnixTimestamp(toStartOfHour(received_at)) AS h, "
        f"count() AS n FROM {t.table} WHERE {scope.in_window()} GROUP BY h"
        for t in scope.event_types()
    )


def judged_hours(since_s: int, until_s: int, seen: list[int]) -> list[int]:
    """Complete hours of the window between the first and last hour with any event."""
    if not seen:
        return []
    first = max(-(-since_s // HOUR) * HOUR, min(seen))
    last = min((until_s // HOUR) * HOUR - HOUR, max(seen))
    return list(range(first, last + 1, HOUR))


def assess(
    counts: dict[str, dict[int, int]],
    hours: list[int],
    *,
    min_hourly: float,
    low_ratio: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Frame records (one per hour) and the per-type problems, from counts by type and hour."""
    total = {h: sum(series.get(h, 0) for series in counts.values()) for h in hours}
    usual_total = median(total.values()) if hours else 0
    usual = {
        name: median(series.get(h, 0) for h in hours) if hours else 0
        for name, series in counts.items()
    }
    records, where = [], []
    for hour in hours:
        silent = low = 0
        for name, series in sorted(counts.items()):
            if usual[name] < min_hourly:
                continue
            n = series.get(hour, 0)
            if n == 0:
                silent += 1
                kind = "silent"
            elif n < low_ratio * usual[name]:
                low += 1
                kind = "low"
            else:
                continue
            where.append(
                {"event_type": name, "hour": iso(hour), "events": n, "usual": usual[name],
                 "problem": kind}
            )  # fmt: skip
        judged = usual_total >= min_hourly
        records.append(
            {
                "hour": iso(hour),
                "events": total[hour],
                "judged_events": total[hour] if judged else None,
                "usual": float(usual_total),
                "ratio": (total[hour] / usual_total) if judged else None,
                "silent_types": silent,
                "low_types": low,
            }
        )
        if judged and total[hour] == 0:
            where.append(
                {"event_type": "*", "hour": iso(hour), "events": 0, "usual": usual_total,
                 "problem": "silent"}
            )  # fmt: skip
    return records, where


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    params = {**DEFAULTS, **(suite.params if suite else {})}
    counts: dict[str, dict[int, int]] = {t.name: {} for t in scope.event_types()}
    if counts:
        for name, hour, n in scope.warehouse.query(hourly_sql(scope), scope.bounds):
            counts[name][int(hour)] = int(n)
    seen = [h for series in counts.values() for h in series]
    hours = judged_hours(scope.window.since_s, scope.window.until_s, seen)
    records, where = assess(
        counts, hours, min_hourly=params["min_hourly"], low_ratio=params["low_ratio"]
    )
    result = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    for column in ("judged_events", "ratio"):
        result[column] = result[column].astype("float64")
    summary = {
        "hours": len(hours),
        "silent_hours": sum(1 for w in where if w["event_type"] == "*"),
        "type_hours_flagged": sum(1 for w in where if w["event_type"] != "*"),
    }
    return Finding(result, where, summary)
