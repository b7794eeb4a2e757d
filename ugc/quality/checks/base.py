"""What every check gets (a ``Scope``) and gives back (a ``Finding``).

A check runs a few aggregate queries in ClickHouse (never pulling raw rows into Python),
turns the small answers into a pandas frame that its suite validates, and says *where* each
problem is (table, partition, offsets, hour, ids) in ``where``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ugc.events import EventType, Registry
from ugc.quality.layout import Layout
from ugc.quality.window import Window

if TYPE_CHECKING:
    import pandas as pd

    from ugc.adapters.clickhouse.base import Warehouse

#: how many ids or rows a ``where`` entry lists before it only counts
SAMPLE = 20


@dataclass
class Scope:
    warehouse: Warehouse
    registry: Registry
    window: Window
    layout: Layout
    topic: str
    tables: set[str]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: event type -> columns that must not be empty (from the completeness suite)
    not_empty: dict[str, list[str]] = field(default_factory=dict)
    #: results shared between checks within one run (see ``profile``)
    cache: dict[str, Any] = field(default_factory=dict)

    def event_types(self) -> list[EventType]:
        """Registry types whose table exists (a missing table is the migration's concern)."""
        return [t for t in self.registry if t.table in self.tables]

    def has(self, table: str) -> bool:
        return table in self.tables

    @property
    def bounds(self) -> dict[str, int]:
        return {"since": self.window.since_s, "until": self.window.until_s}

    @staticmethod
    def in_window(column: str = "received_at") -> str:
        return (
            f"{column} >= toDateTime(%(since)s, 'UTC') AND {column} < toDateTime(%(until)s, 'UTC')"
        )

    @property
    def reference(self) -> datetime:
        """ "Now" for freshness: ``--until`` when given, else the wall clock."""
        return self.window.until if self.window.explicit_until else self.now


@dataclass
class Finding:
    frame: pd.DataFrame
    where: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def iso(epoch: int | float | None) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
