"""The one warehouse interface both backends implement, and helpers they share.

SQL handed to a warehouse uses pyformat placeholders (``%(name)s``) for values; the native
backend lets clickhouse-driver escape them, the embedded one turns them into ClickHouse's
typed query parameters (``{name:String}``). Identifiers are never parameters: they come from
the registry or from constants in this code base, never from input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pyarrow as pa

from ugc.errors import UgcError

#: ``Code: 57.`` in a ClickHouse error message
_CODE = re.compile(r"Code: (\d+)")


class WarehouseQueryError(UgcError):
    """The warehouse answered, but refused or failed a statement (exit 1)."""

    code = "warehouse_query_failed"

    def __init__(self, message: str, *, server_code: int | None = None) -> None:
        super().__init__(message)
        self.server_code = server_code


# ClickHouse error codes we act on
TABLE_ALREADY_EXISTS = 57
UNKNOWN_TABLE = 60
UNKNOWN_DATABASE = 81


def server_code(text: str) -> int | None:
    match = _CODE.search(text)
    return int(match.group(1)) if match else None


def short(text: str, limit: int = 300) -> str:
    """The first line of a ClickHouse error, without the stack trace."""
    first = " ".join(str(text).split("Stack trace")[0].split())
    return first[:limit]


@dataclass(frozen=True)
class Capabilities:
    """What the server at hand can do; ``modern`` is the one switch ``ugc.events.columns`` reads."""

    version: str
    #: DateTime64, LowCardinality without a setting, insert_deduplication_token (ClickHouse 20+)
    modern: bool

    @classmethod
    def from_version(cls, version: str) -> Capabilities:
        parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
        return cls(version=version, modern=(parts[0], parts[1]) >= (20, 1))


#: a block's column may come as Arrow (the loader parses chunks with Arrow)
ARROW_COLUMN = (pa.Array, pa.ChunkedArray)


def to_python(values: Any) -> Sequence[Any]:
    """A column as a Python sequence (Arrow's converted, anything else as it is)."""
    return values.to_pylist() if isinstance(values, ARROW_COLUMN) else values


class Warehouse:
    """A connection to ClickHouse: a server over the native protocol, or chdb in-process."""

    kind = "abstract"
    url = ""
    database = ""
    capabilities: Capabilities

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows as tuples. UUIDs come back as text, times as ``datetime`` (native) or text
        (embedded): cast in SQL (``toString``) where callers compare across backends."""
        raise NotImplementedError

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        data: Sequence[Sequence[Any]],
        *,
        settings: Mapping[str, Any] | None = None,
    ) -> int:
        """Insert one block, given column-wise: ``data[i]`` holds every value of ``columns[i]``,
        as a Python sequence or an Arrow array (``ARROW_COLUMN``).

        Values are in wire form: times as ISO 8601 text (``2026-11-23T18:32:56.123Z``), UUIDs
        as text, booleans as 0/1. Returns the number of rows.
        """
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ conveniences on top
    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT name FROM system.tables WHERE database = %(db)s", {"db": self.database}
        )
        return {row[0] for row in rows}

    def describe(self, table: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column, in table order."""
        return [(row[0], row[1]) for row in self.query(f"DESCRIBE TABLE {table}")]
