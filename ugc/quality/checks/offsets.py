"""Offset gaps: every Kafka offset up to the last load is a table row or a dead letter.

For each partition the ledger says which offsets the loader read (``first_offset`` ..
``last_offset`` of its batches, merged). Every offset in ``[min first, max last]`` must be
found in some ``events_<type>`` table or in ``dead_letters``. Offsets are not time-based, so
this check covers the whole ledger whatever the window.

How, cheaply: one query gives, per bucket of ``BUCKET`` offsets, the row count and the sum
and sum of squares of the offsets. A complete bucket without duplicates has a signature known
in advance, so most buckets are settled without hashing a single offset; the ledger's ends
are bound per partition so rows before, inside and beyond the range are told apart in the
same query. Buckets whose signature differs (a gap, a duplicated position) are counted
exactly; up to ``MAX_DRILL`` of them are read offset by offset to name the missing ranges.

Reconciliation with the ledger: offsets the loader reported as skipped (``rows_skipped``:
read but deliberately not loaded, such as messages before ``--since``) explain that many
missing offsets; what is left is ``unexplained``. Rows stored beyond the ledger's last
position (written by a run that died before its ledger row) are ``beyond_ledger``; gaps
between ledger batches are ``ledger_holes``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
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
#: unsure buckets read offset by offset; past that they are counted, not itemised
MAX_DRILL = 16
MAX_RANGES = 50
_WRAP = 2**64

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


def buckets_sql(
    scope: Scope, partitions: list[tuple[int, tuple[int, int]]]
) -> tuple[str, dict[str, int]]:
    """Per (partition, bucket, zone): rows, and the sum and the sum of squares of the offsets.

    ``zone`` is -1 before the partition's ledger range, 0 inside, 1 beyond it (the ranges are
    bound per partition; a partition the ledger does not know is all beyond). UInt64 sums wrap
    around; Python compares them modulo 2**64.
    """
    params: dict[str, int] = {}
    lows, highs = [], []
    for i, (partition, (lo, hi)) in enumerate(partitions):
        params.update({f"p{i}": partition, f"lo{i}": lo, f"hi{i}": hi})
        lows.append(f"p = %(p{i})s, %(lo{i})s")
        highs.append(f"p = %(p{i})s, %(hi{i})s")
    low = f"multiIf({', '.join(lows)}, 1)"
    high = f"multiIf({', '.join(highs)}, 0)"
    zone = f"multiIf(o < {low}, -1, o > {high}, 1, 0)"
    sql = (
        f"SELECT p, intDiv(o, {BUCKET}) AS b, {zone} AS z, count(), sum(o), sum(o * o) "
        f"FROM ({_union(scope)}) GROUP BY p, b, z"
    )
    return sql, params


def exact_sql(scope: Scope) -> str:
    """Distinct offsets of one bucket inside the ledger's range."""
    condition = "kafka_partition = %(p)s AND kafka_offset >= %(a)s AND kafka_offset <= %(b)s"
    return f"SELECT uniqExact(o) FROM ({_union(scope, condition)})"


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


def signature(start: int, end: int) -> tuple[int, int, int]:
    """(count, sum, sum of squares mod 2**64) of the offsets ``start..end``, each once."""

    def squares(n: int) -> int:  # 0**2 + 1**2 + ... + n**2
        return n * (n + 1) * (2 * n + 1) // 6 if n >= 0 else 0

    total = (start + end) * (end - start + 1) // 2
    return end - start + 1, total % _WRAP, (squares(end) - squares(start - 1)) % _WRAP


@dataclass
class Partition:
    """One partition's offsets: found, missing ranges, beyond the ledger, still unsure."""

    lo: int
    hi: int
    found: int = 0
    beyond: int = 0
    gaps: list[Range] = field(default_factory=list)
    inexact: list[dict[str, int]] = field(default_factory=list)
    #: buckets that need an exact count: signature mismatch, or a ledger end inside
    unsure: list[int] = field(default_factory=list)


def classify(
    lo: int, hi: int, buckets: dict[int, tuple[int, int, int]], beyond: int = 0
) -> Partition:
    """Settle what the signatures of the rows inside ``[lo, hi]`` can settle (pure)."""
    part = Partition(lo, hi, beyond=beyond)
    for bucket in range(lo // BUCKET, hi // BUCKET + 1):
        start, end = bucket_span(bucket, lo, hi)
        seen = buckets.get(bucket)
        if seen is None:
            part.gaps.append((start, end))
        elif tuple(v % _WRAP for v in seen) == signature(start, end):
            part.found += end - start + 1
        else:
            part.unsure.append(bucket)
    return part


def run(scope: Scope, suite: Any) -> Finding:
    import pandas as pd

    params = {"topic": scope.topic}
    ledger = (
        scope.warehouse.query(ledger_sql(scope), params) if scope.has(scope.layout.ledger) else []
    )
    ranges: dict[int, list[Range]] = defaultdict(list)
    # a row's skipped offsets are its first ``rows_skipped`` (before ``--since``, or the whole
    # row for an ETL hole); a replay writes such a row again, so count their union, not a sum
    skipped_ranges: dict[int, list[Range]] = defaultdict(list)
    for partition, first, last, rows_skipped in ledger:
        ranges[int(partition)].append((int(first), int(last)))
        if int(rows_skipped) > 0:
            skipped_ranges[int(partition)].append((int(first), int(first) + int(rows_skipped) - 1))
    skipped: dict[int, int] = defaultdict(int)
    for partition, spans in skipped_ranges.items():
        skipped[partition] = sum(b - a + 1 for a, b in merge(spans))
    buckets: dict[int, dict[int, tuple[int, int, int]]] = defaultdict(dict)
    beyond: dict[int, int] = defaultdict(int)
    if ledger and scope.event_types():
        bounds = [(p, (r[0][0], r[-1][1])) for p, r in sorted(ranges.items()) for r in [merge(r)]]
        sql, bound_params = buckets_sql(scope, bounds)
        for partition, bucket, zone, rows, total, squares in scope.warehouse.query(
            sql, {**params, **bound_params}
        ):
            if int(zone) == 0:
                buckets[int(partition)][int(bucket)] = (int(rows), int(total), int(squares))
            elif int(zone) == 1:
                beyond[int(partition)] += int(rows)
    records, where = [], []
    drills = [MAX_DRILL]
    for partition in sorted(set(ranges) | set(beyond)):
        covered = merge(ranges.get(partition, []))
        if not covered:
            rows = beyond[partition]
            where.append({"partition": partition, "problem": "not in the ledger", "rows": rows})
            records.append(_record(partition, None, None, 0, 0, 0, 0, [], rows))
            continue
        part = classify(covered[0][0], covered[-1][1], buckets[partition], beyond[partition])
        if part.unsure:
            _settle(scope, partition, part, drills)
        part.gaps = merge(part.gaps)
        expected = part.hi - part.lo + 1
        ledger_holes = holes(covered)
        gap_count = len(part.gaps) + len(part.inexact)
        records.append(
            _record(partition, part.lo, part.hi, expected, part.found, skipped[partition],
                    gap_count, ledger_holes, part.beyond)
        )  # fmt: skip
        if gap_count or ledger_holes or part.beyond:
            where.append(
                {
                    "partition": partition,
                    "ledger_range": [part.lo, part.hi],
                    "missing": expected - part.found,
                    "missing_ranges": [list(r) for r in part.gaps[:MAX_RANGES]],
                    "missing_buckets_not_itemised": part.inexact[:MAX_RANGES],
                    "ledger_holes": [list(r) for r in ledger_holes[:MAX_RANGES]],
                    "beyond_ledger": part.beyond,
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


def _settle(scope: Scope, partition: int, part: Partition, drills: list[int]) -> None:
    """Count the unsure buckets exactly; itemise the missing offsets of the first few."""
    params = {"topic": scope.topic, "p": partition, "lo": part.lo, "hi": part.hi}
    for bucket in part.unsure:
        start, end = bucket_span(bucket, part.lo, part.hi)
        inside = int(scope.warehouse.scalar(exact_sql(scope), {**params, "a": start, "b": end}))
        part.found += inside
        if inside >= end - start + 1:
            continue
        if drills[0] > 0:
            drills[0] -= 1
            rows = scope.warehouse.query(drill_sql(scope), {**params, "a": start, "b": end})
            part.gaps.extend(missing_in([int(r[0]) for r in rows], start, end))
        else:
            part.inexact.append({"from": start, "to": end, "missing": end - start + 1 - inside})


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
