"""Freshness: how old the newest event is, at the end of the window (``--until``) or now.

``age_s`` is measured on ``received_at`` (when the collector got the newest event received
in the window), ``load_age_s`` on ``loaded_at`` (when the ETL last wrote one of them). Events
received after ``--until`` are ignored, so a past window is judged as it was then; a window
without any event has no age (and fails the not-null expectation).
"""

from __future__ import annotations

from typing import Any

from ugc.quality.checks.base import Finding, Scope, iso
from ugc.quality.checks.profile import profiles

COLUMNS = ("newest_event_at", "newest_loaded_at", "reference", "age_s", "load_age_s")


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    reference = int(scope.reference.timestamp())
    per_type = {name: (p.newest_received, p.newest_loaded) for name, p in profiles(scope).items()}
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
