"""Offset gaps: every Kafka offset up to the last load is a table row or a dead letter.

For each partition the ledger says which offsets the loader read (``first_offset`` ..
``last_offset`` of its batches, merged). Every offset in ``[min first, max last]`` must be
found in some ``events_<type>`` table or in ``dead_letters``. The count is done per bucket of
``BUCKET`` offsets in one aggregate query; only incomplete buckets are read offset by offset
to name the exact missing ranges. Offsets are not time-based, so this check covers the whole
ledger whatever the window.

Reconciliation with the ledger: offsets the loader reported as skipped (``rows_skipped``:
offsets the broker never returned, such as transaction markers) explain that many missing
offsets; what is left is ``unexplained``. Offsets stored beyond the ledger's last position
(rows written by a run that died before its ledger row) are ``beyond_ledger``; gaps between
ledger batches are ``ledger_holes``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ugc.quality.checks.base import Finding, Scope

COLUMNS = (
    "partition",
    "first_offset",
    "last_offset",
    "expected",
    "accounted",
    "missing",
    "ledger_skipped",
    "unexplained",
    "gap_ranges",
    "ledger_holes",
    "beyond_ledger",
)
BUCKET = 65536
#: incomplete buckets read offset by offset; the rest are reported as ranges with a count
MAX_DRILL = 16
MAX_RANGES = 50

Range = tuple[int, int]


def ledger_sql(scope: Scope) -> str:
    return (
        "SELECT kafka_partition, first_offset, last_offset, rows_skipped "
        f"FROM {scope.layout.ledger} WHERE topic = %(topic)s AND last_offset >= first_offset "
        "ORDER BY kafka_partition, first_offset, last_offset"
    )


def _union(scope: Scope, condition: str = "") -> str:
    where = f" WHERE {condition}" if condition else ""
    parts = [
        f"SELECT kafka_partition AS p, kafka_offset AS o FROM {t.table}{where}"
        for t in scope.event_types()
    ]
    dead = f"topic = %(topic)s AND {condition}" if condition else "topic = %(topic)s"
    if scope.has(scope.layout.dead_letters):
        parts.append(
            f"SELECT kafka_partition AS p, kafka_offset AS o FROM {scope.layout.dead_letters} "
            f"WHERE {dead}"
        )
    return " UNION ALL ".join(parts)


def buckets_sql(scope: Scope) -> str:
    """Distinct offsets per (partition, bucket): inside the ledger's range, and beyond it."""
    return (
        f"SELECT u.p, intDiv(u.o, {BUCKET}) AS b, "
        "uniqExactIf(u.o, l.known = 1 AND u.o >= l.lo AND u.o <= l.hi) AS inside, "
        "uniqExactIf(u.o, l.known = 0 OR u.o > l.hi) AS beyond "
        f"FROM ({_union(scope)}) AS u "
        "ANY LEFT JOIN (SELECT kafka_partition AS p, 1 AS known, min(first_offset) AS lo, "
        f"max(last_offset) AS hi FROM {scope.layout.ledger} WHERE topic = %(topic)s "
        "GROUP BY kafka_partition) AS l ON u.p = l.p "
        "GROUP BY u.p, b"
    )


def drill_sql(scope: Scope) -> str:
    condition = "kafka_partition = %(p)s AND kafka_offset >= %(a)s AND kafka_offset <= %(b)s"
    return f"SELECT DISTINCT o FROM ({_union(scope, condition)}) ORDER BY o"


# ------------------------------------------------------------------ pure computation
def merge(ranges: list[Range]) -> list[Range]:
    """Sorted, merged inclusive ranges; touching ranges join (``(1,3),(4,5)`` -> ``(1,5)``)."""
    out: list[Range] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def holes(covered: list[Range]) -> list[Range]:
    return [(a[1] + 1, b[0] - 1) for a, b in zip(covered, covered[1:], strict=False)]


def missing_in(present: list[int], start: int, end: int) -> list[Range]:
    """Inclusive ranges of ``[start, end]`` not in the sorted list ``present``."""
    out: list[Range] = []
    expected = start
    for offset in present:
        if offset < start or offset > end:
            continue
        if offset > expected:
            out.append((expected, offset - 1))
        expected = max(expected, offset + 1)
    if expected <= end:
        out.append((expected, end))
    return out


def bucket_span(bucket: int, lo: int, hi: int) -> Range:
    return max(lo, bucket * BUCKET), min(hi, (bucket + 1) * BUCKET - 1)


def incomplete_buckets(lo: int, hi: int, inside: dict[int, int]) -> list[tuple[int, int, int]]:
    """``(bucket, expected, found)`` for each bucket of ``[lo, hi]`` with offsets missing."""
    out = []
    for bucket in range(lo // BUCKET, hi // BUCKET + 1):
        start, end = bucket_span(bucket, lo, hi)
        expected = end - start + 1
        found = inside.get(bucket, 0)
        if found < expected:
            out.append((bucket, expected, found))
    return out


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    params = {"topic": scope.topic}
    ledger = (
        scope.warehouse.query(ledger_sql(scope), params) if scope.has(scope.layout.ledger) else []
    )
    ranges: dict[int, list[Range]] = defaultdict(list)
    skipped: dict[int, int] = defaultdict(int)
    for partition, first, last, rows_skipped in ledger:
        ranges[int(partition)].append((int(first), int(last)))
        skipped[int(partition)] += int(rows_skipped)
    inside: dict[int, dict[int, int]] = defaultdict(dict)
    beyond: dict[int, int] = defaultdict(int)
    if ledger and scope.event_types():
        for partition, bucket, n_inside, n_beyond in scope.warehouse.query(
            buckets_sql(scope), params
        ):
            inside[int(partition)][int(bucket)] = int(n_inside)
            beyond[int(partition)] += int(n_beyond)
    records, where = [], []
    drills_left = MAX_DRILL
    for partition in sorted(set(ranges) | set(beyond)):
        covered = merge(ranges.get(partition, []))
        if not covered:
            where.append({"partition": partition, "problem": "not in the ledger",
                          "offsets": beyond[partition]})  # fmt: skip
            records.append(_record(partition, None, None, 0, 0, 0, 0, [], beyond[partition]))
            continue
        lo, hi = covered[0][0], covered[-1][1]
        gaps: list[Range] = []
        inexact: list[dict[str, int]] = []
        expected_total = hi - lo + 1
        incomplete = incomplete_buckets(lo, hi, inside[partition])
        found_total = expected_total - sum(exp - got for _, exp, got in incomplete)
        for bucket, expected, found in incomplete:
            start, end = bucket_span(bucket, lo, hi)
            if found == 0:
                gaps.append((start, end))
            elif drills_left > 0:
                drills_left -= 1
                rows = scope.warehouse.query(
                    drill_sql(scope), {**params, "p": partition, "a": start, "b": end}
                )
                gaps.extend(missing_in([int(r[0]) for r in rows], start, end))
            else:
                inexact.append({"from": start, "to": end, "missing": expected - found})
        gaps = merge(gaps)
        ledger_holes = holes(covered)
        records.append(
            _record(partition, lo, hi, expected_total, found_total, skipped[partition],
                    len(gaps) + len(inexact), ledger_holes, beyond[partition])
        )  # fmt: skip
        if gaps or inexact or ledger_holes or beyond[partition]:
            where.append(
                {
                    "partition": partition,
                    "ledger_range": [lo, hi],
                    "missing": expected_total - found_total,
                    "missing_ranges": [list(r) for r in gaps[:MAX_RANGES]],
                    "missing_buckets_not_itemised": inexact[:MAX_RANGES],
                    "ledger_holes": [list(r) for r in ledger_holes[:MAX_RANGES]],
                    "beyond_ledger": beyond[partition],
                }
            )
    result = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    summary = {
        "partitions": len(records),
        "missing": int(result["missing"].sum()) if len(result) else 0,
        "unexplained": int(result["unexplained"].sum()) if len(result) else 0,
        "beyond_ledger": int(result["beyond_ledger"].sum()) if len(result) else 0,
    }
    return Finding(result, where, summary)


def _record(
    partition: int,
    lo: int | None,
    hi: int | None,
    expected: int,
    accounted: int,
    ledger_skipped: int,
    gap_count: int,
    ledger_holes: list[Range],
    beyond_ledger: int,
) -> dict[str, Any]:
    missing = expected - accounted
    return {
        "partition": partition,
        "first_offset": lo,
        "last_offset": hi,
        "expected": expected,
        "accounted": accounted,
        "missing": missing,
        "ledger_skipped": ledger_skipped,
        "unexplained": max(0, missing - ledger_skipped),
        "gap_ranges": gap_count,
        "ledger_holes": sum(b - a + 1 for a, b in ledger_holes),
        "beyond_ledger": beyond_ledger,
    }
