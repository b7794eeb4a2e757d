"""Completeness: required fields, page views without their other half, durations, qualities.

Rules come from the suite (``expectations/completeness.json``):

* ``params.common_not_empty`` and ``types.<type>.not_empty``: columns that must hold a value
  (``''``, the zero UUID and the zero time count as empty); every registry type has an entry
  and every required text field is listed there or in ``may_be_empty`` (a unit test checks);
* ``params.page_views``: ``page_view_start`` rows with no ``page_view_end`` of the same
  ``page_view_id`` within ``timeout_s`` (seed-002 single-shot views, envelope ``v2``, have no
  end and are left out), and ends with no start; time on page below zero or above ``max_s``;
* ``params.qualities``: quality columns whose values are not in ``STANDARD_QUALITIES``;
* ``params.max_values``: numeric columns with an upper bound (absurd durations).

The frame has one row per event type; a rule that does not apply to a type is empty there.
"""

from __future__ import annotations

from typing import Any

from ugc.events import STANDARD_QUALITIES, EventType
from ugc.quality.checks.base import SAMPLE, Finding, Scope, iso
from ugc.quality.checks.profile import profiles

COLUMNS = (
    "event_type",
    "rows",
    "missing_required",
    "orphan_starts",
    "orphan_ends",
    "negative_durations",
    "absurd_durations",
    "unknown_qualities",
)
RULE_COLUMNS = COLUMNS[3:]
PAGE_VIEW_DEFAULTS = {
    "start": "page_view_start",
    "end": "page_view_end",
    "id": "page_view_id",
    "timeout_s": 7200,
    "max_s": 86400,
    "exclude_envelope": "v2",
}


def page_views_sql(start: EventType, end: EventType, id_column: str) -> str:
    """Every page-view problem in one pass over starts and ends grouped by ``id_column``.

    Per id (grouped by its 64-bit hash: cheaper, and two ids colliding is ~1e-7 at millions
    of page views): the first start and end (receive and event times) and the start's envelope. A start
    in ``[since, cutoff)`` with no end is an orphan start (not for single-shot ``v2`` views);
    an end in the window with no start is an orphan end; a pair whose start is in the window
    has a duration below zero or above ``max_s``. Answers per (problem, hour) with samples.
    """
    starts = (
        f"SELECT {id_column} AS pv, 1 AS s, received_at AS r, event_at AS t, "
        f"toString(envelope) AS env FROM {start.table} "
        "WHERE received_at >= toDateTime(%(lookback)s, 'UTC') "
        "AND received_at < toDateTime(%(until)s, 'UTC')"
    )
    ends = (
        f"SELECT {id_column} AS pv, 0 AS s, received_at AS r, event_at AS t, '' AS env "
        f"FROM {end.table} WHERE received_at >= toDateTime(%(lookback)s, 'UTC')"
    )
    per_id = (
        "SELECT any(pv) AS id, countIf(s = 1) AS ns, countIf(s = 0) AS ne, "
        "toUnixTimestamp(minIf(r, s = 1)) AS rs, toUnixTimestamp(minIf(r, s = 0)) AS re, "
        "toUnixTimestamp(minIf(t, s = 1)) AS ts, toUnixTimestamp(minIf(t, s = 0)) AS te, "
        f"anyIf(env, s = 1) AS env FROM ({starts} UNION ALL {ends}) GROUP BY cityHash64(reinterpretAsString(pv))"
    )
    kind = (
        "multiIf("
        "ns > 0 AND ne = 0 AND rs >= %(since)s AND rs < %(cutoff)s AND env != %(exclude)s, "
        "'orphan_starts', "
        "ne > 0 AND ns = 0 AND re >= %(since)s AND re < %(until)s, 'orphan_ends', "
        "ns > 0 AND ne > 0 AND rs >= %(since)s AND rs < %(until)s AND te < ts, "
        "'negative_durations', "
        "ns > 0 AND ne > 0 AND rs >= %(since)s AND rs < %(until)s AND te - ts > %(max_s)s, "
        "'absurd_durations', '')"
    )
    return (
        f"SELECT kind, intDiv(if(ns > 0, rs, re), 3600) * 3600 AS h, count(), "
        f"groupArray({SAMPLE})(toString(id)) FROM (SELECT *, {kind} AS kind FROM ({per_id})) "
        "WHERE kind != '' GROUP BY kind, h ORDER BY kind, h"
    )


def qualities_sql(event_type: EventType, columns: list[str], scope: Scope) -> str:
    """Values of the quality columns that are not standard heights, with counts and videos."""
    allowed = ", ".join(str(int(q)) for q in STANDARD_QUALITIES)
    values = ", ".join(columns)
    return (
        f"SELECT q, count() AS n, arraySlice(arraySort(groupUniqArray(video_id)), 1, {SAMPLE}) FROM ("
        f"SELECT arrayJoin([{values}]) AS q, video_id FROM {event_type.table} "
        f"WHERE {scope.in_window()}) WHERE NOT has([{allowed}], q) "
        "GROUP BY q ORDER BY n DESC, q"
    )


def unknown_quality_rows_sql(event_type: EventType, columns: list[str], scope: Scope) -> str:
    allowed = ", ".join(str(int(q)) for q in STANDARD_QUALITIES)
    test = " OR ".join(f"NOT has([{allowed}], {c})" for c in columns)
    return f"SELECT countIf({test}) FROM {event_type.table} WHERE {scope.in_window()}"


def max_values_sql(event_type: EventType, limits: dict[str, int], scope: Scope) -> str:
    tests = " OR ".join(f"ifNull({column}, 0) > {int(limit)}" for column, limit in limits.items())
    return (
        f"SELECT countIf({tests}), groupArrayIf({SAMPLE})(toString(event_id), {tests}) "
        f"FROM {event_type.table} WHERE {scope.in_window()}"
    )


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    types = {t.name: t for t in scope.event_types()}
    records: dict[str, dict[str, Any]] = {
        name: {"event_type": name, "rows": 0, "missing_required": 0} for name in types
    }
    where: list[dict[str, Any]] = []
    for name, found in profiles(scope).items():
        records[name].update(rows=found.rows, missing_required=found.missing_rows)
        for column, count in found.missing.items():
            if count:
                where.append({"rule": "missing_required", "event_type": name,
                              "table": found.table, "column": column, "rows": count})  # fmt: skip
    _page_views(scope, suite, types, records, where)
    _qualities(scope, suite, types, records, where)
    _max_values(scope, suite, types, records, where)
    result = pd.DataFrame.from_records(list(records.values()), columns=list(COLUMNS))
    for column in RULE_COLUMNS:
        result[column] = result[column].astype("float64")
    summary = {
        column: int(result[column].fillna(0).sum())
        for column in ("missing_required", *RULE_COLUMNS)
    }
    return Finding(result, where, summary)


def _page_views(scope, suite, types, records, where) -> None:  # noqa: ANN001
    spec = {**PAGE_VIEW_DEFAULTS, **suite.param("page_views", {})}
    start, end, id_column = types.get(spec["start"]), types.get(spec["end"]), spec["id"]
    if start is None or end is None:
        return
    timeout = int(spec["timeout_s"])
    params = {
        **scope.bounds,
        "cutoff": scope.window.until_s - timeout,
        "lookback": scope.window.since_s - timeout,
        "exclude": spec["exclude_envelope"],
        "max_s": int(spec["max_s"]),
    }
    totals = dict.fromkeys(("orphan_starts", "orphan_ends", "negative_durations",
                            "absurd_durations"), 0)  # fmt: skip
    rows = scope.warehouse.query(page_views_sql(start, end, id_column), params)
    for kind, hour, n, sample in rows:
        totals[kind] += int(n)
        table = end if kind == "orphan_ends" else start
        entry = {"rule": kind, "event_type": table.name, "table": table.table,
                 "hour": iso(hour), "rows": int(n), id_column + "s": sorted(sample)}  # fmt: skip
        if kind in ("negative_durations", "absurd_durations"):
            entry["max_s"] = int(spec["max_s"])
        where.append(entry)
    records[start.name]["orphan_starts"] = totals["orphan_starts"]
    records[end.name]["orphan_ends"] = totals["orphan_ends"]
    records[start.name]["negative_durations"] = totals["negative_durations"]
    records[start.name]["absurd_durations"] = totals["absurd_durations"]


def _qualities(scope, suite, types, records, where) -> None:  # noqa: ANN001
    for name, columns in suite.param("qualities", {}).items():
        event_type = types.get(name)
        if event_type is None:
            continue
        count = scope.warehouse.scalar(
            unknown_quality_rows_sql(event_type, columns, scope), scope.bounds
        )
        records[name]["unknown_qualities"] = int(count or 0)
        if count:
            for value, n, videos in scope.warehouse.query(
                qualities_sql(event_type, columns, scope), scope.bounds
            ):
                where.append({"rule": "unknown_qualities", "event_type": name,
                              "value": int(value), "rows": int(n),
                              "video_ids": sorted(videos)})  # fmt: skip


def _max_values(scope, suite, types, records, where) -> None:  # noqa: ANN001
    for name, limits in suite.param("max_values", {}).items():
        event_type = types.get(name)
        if event_type is None:
            continue
        count, ids = scope.warehouse.query(max_values_sql(event_type, limits, scope), scope.bounds)[
            0
        ]
        previous = records[name].get("absurd_durations")
        records[name]["absurd_durations"] = int(count) + int(previous or 0)
        if int(count):
            where.append({"rule": "absurd_durations", "event_type": name, "limits": limits,
                          "rows": int(count), "event_ids": sorted(ids)})  # fmt: skip
