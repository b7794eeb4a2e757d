"""Freshness: how old the newest event is, at the end of the window (``--until``) or now.

``age_s`` is measured on ``received_at`` (when the collector got the newest event),
``load_age_s`` on ``loaded_at`` (when the ETL last wrote a row). Events received after
``--until`` are ignored, so a past window is judged as it was then.
"""

from __future__ import annotations

from typing import Any

from ugc.quality.checks.base import Finding, Scope, iso

COLUMNS = ("newest_event_at", "newest_loaded_at", "reference", "age_s", "load_age_s")


def newest_sql(scope: Scope) -> str:
    return " UNION ALL ".join(
        f"SELECT '{t.name}' AS event_type, toUnixTimestamp(max(received_at)) AS r, "
        f"toUnixTimestamp(max(loaded_at)) AS l FROM {t.table} "
        "WHERE received_at < toDateTime(%(until)s, 'UTC')"
        for t in scope.event_types()
    )


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    reference = int(scope.reference.timestamp())
    rows = (
        scope.warehouse.query(newest_sql(scope), {"until": reference})
        if scope.event_types()
        else []
    )
    per_type = {name: (int(r or 0), int(done or 0)) for name, r, done in rows}
    newest = max((r for r, _ in per_type.values()), default=0)
    loaded = max((lo for _, lo in per_type.values()), default=0)
    record = {
        "newest_event_at": iso(newest),
        "newest_loaded_at": iso(loaded),
        "reference": iso(reference),
        "age_s": float(reference - newest) if newest else None,
        "load_age_s": float(reference - loaded) if loaded else None,
    }
    result = pd.DataFrame.from_records([record], columns=list(COLUMNS))
    for column in ("age_s", "load_age_s"):
        result[column] = result[column].astype("float64")
    where = [
        {"event_type": name, "newest_event_at": iso(r), "age_s": reference - r if r else None}
        for name, (r, _) in sorted(per_type.items())
    ]
    return Finding(result, where, {"age_s": record["age_s"], "newest_event_at": iso(newest)})
