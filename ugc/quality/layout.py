"""Names of the warehouse objects the checks read (docs/etl.md) and write, kept in one place.

Identifiers in SQL come from here or from the registry (``EventType.table``), never from input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    #: raw dead letters: the same position may appear twice until a merge
    dead_letters: str = "dead_letters"
    #: one row per loaded batch of one partition
    ledger: str = "load_ledger"
    #: where ``ugc quality check`` appends its results (clickhouse/migrations/100_*.sql)
    results: str = "quality_results"


LAYOUT = Layout()
