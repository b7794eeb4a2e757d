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
from ugc.events.columns import Column, table_columns
from ugc.quality.checks.base import SAMPLE, Finding, Scope, iso

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
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
PAGE_VIEW_DEFAULTS = {
    "start": "page_view_start",
    "end": "page_view_end",
    "id": "page_view_id",
    "timeout_s": 7200,
    "max_s": 86400,
    "exclude_envelope": "v2",
}


def empty_condition(column: Column) -> str:
    """SQL that is true when ``column`` holds no value."""
    name = column.name
    if column.logical == "uuid":
        test = f"{name} = toUUID('{ZERO_UUID}')"
    elif column.logical == "ts":
        test = f"toUnixTimestamp({name}) = 0"
    elif column.logical in ("string", "lowcard"):
        test = f"{name} = ''"
    elif column.logical == "strings":
        test = f"empty({name})"
    else:
        test = "0"
    return f"({name} IS NULL OR {test})" if column.nullable else test


def required_sql(scope: Scope, not_empty: dict[str, list[str]]) -> str:
    parts = []
    for event_type in scope.event_types():
        columns = {c.name: c for c in table_columns(event_type)}
        tests = [empty_condition(columns[name]) for name in not_empty.get(event_type.name, [])]
        tests = tests or ["0"]
        parts.append(
            f"SELECT '{event_type.name}' AS event_type, count() AS rows, "
            f"countIf({' OR '.join(tests)}) AS missing, "
            f"[{', '.join(f'countIf({t})' for t in tests)}] AS per_column "
            f"FROM {event_type.table} WHERE {scope.in_window()}"
        )
    return " UNION ALL ".join(parts)


def orphans_sql(this: EventType, other: EventType, id_column: str, *, starts: bool) -> str:
    """Rows of ``this`` whose id never appears in ``other``, counted per hour, with samples."""
    if starts:
        own = (
            "received_at >= toDateTime(%(since)s, 'UTC') "
            "AND received_at < toDateTime(%(cutoff)s, 'UTC') AND envelope != %(exclude)s"
        )
    else:
        own = (
            "received_at >= toDateTime(%(since)s, 'UTC') "
            "AND received_at < toDateTime(%(until)s, 'UTC')"
        )
    return (
        f"SELECT toUnixTimestamp(toStartOfHour(t)) AS h, count() AS n, "
        f"groupArray({SAMPLE})(id) AS sample FROM ("
        f"SELECT toString({id_column}) AS id, min(received_at) AS t FROM {this.table} "
        f"WHERE {own} AND {id_column} NOT IN (SELECT {id_column} FROM {other.table} "
        f"WHERE received_at >= toDateTime(%(lookback)s, 'UTC')) GROUP BY {id_column}) "
        "GROUP BY h ORDER BY h"
    )


def durations_sql(start: EventType, end: EventType, id_column: str) -> str:
    """Negative and absurd time on page over start/end pairs whose start is in the window."""
    return (
        f"SELECT countIf(d < 0), countIf(d > %(max_s)s), "
        f"groupArrayIf({SAMPLE})(id, d < 0), groupArrayIf({SAMPLE})(id, d > %(max_s)s) FROM ("
        "SELECT toString(s.id) AS id, e.te - s.ts AS d FROM ("
        f"SELECT {id_column} AS id, toUnixTimestamp(min(event_at)) AS ts FROM {start.table} "
        "WHERE received_at >= toDateTime(%(since)s, 'UTC') "
        "AND received_at < toDateTime(%(until)s, 'UTC') "
        f"GROUP BY {id_column}) AS s ANY INNER JOIN ("
        f"SELECT {id_column} AS id, toUnixTimestamp(max(event_at)) AS te FROM {end.table} "
        "WHERE received_at >= toDateTime(%(since)s, 'UTC') "
        f"GROUP BY {id_column}) AS e ON s.id = e.id)"
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
    common = list(suite.param("common_not_empty", []))
    not_empty = {
        name: common + list(spec.get("not_empty", [])) for name, spec in suite.types.items()
    }
    records: dict[str, dict[str, Any]] = {
        name: {"event_type": name, "rows": 0, "missing_required": 0} for name in types
    }
    where: list[dict[str, Any]] = []
    wh = scope.warehouse
    if types:
        for name, rows, missing, per_column in wh.query(
            required_sql(scope, not_empty), scope.bounds
        ):
            records[name].update(rows=int(rows), missing_required=int(missing))
            for column, count in zip(not_empty.get(name, []), per_column, strict=False):
                if int(count):
                    where.append({"rule": "missing_required", "event_type": name,
                                  "table": types[name].table, "column": column,
                                  "rows": int(count)})  # fmt: skip
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
    for this, other, column, starts in (
        (start, end, "orphan_starts", True),
        (end, start, "orphan_ends", False),
    ):
        total = 0
        for hour, n, sample in scope.warehouse.query(
            orphans_sql(this, other, id_column, starts=starts), params
        ):
            total += int(n)
            where.append({"rule": column, "event_type": this.name, "table": this.table,
                          "hour": iso(hour), "rows": int(n), id_column + "s": sorted(sample)})  # fmt: skip
        records[this.name][column] = total
    negative, absurd, neg_ids, absurd_ids = scope.warehouse.query(
        durations_sql(start, end, id_column), params
    )[0]
    records[start.name]["negative_durations"] = int(negative)
    records[start.name]["absurd_durations"] = int(absurd)
    for rule, count, ids in (
        ("negative_durations", negative, neg_ids),
        ("absurd_durations", absurd, absurd_ids),
    ):
        if int(count):
            where.append({"rule": rule, "event_type": start.name, "rows": int(count),
                          "max_s": int(spec["max_s"]), id_column + "s": sorted(ids)})  # fmt: skip


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
