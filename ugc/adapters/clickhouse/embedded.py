"""Embedded ClickHouse (chdb): the real engine in-process, storage in one directory.

Blocks are inserted as Arrow tables (built from the block's columns, or its own Arrow columns
cast where the table's types differ) through chdb's ``Python()`` table function: it reads the
columns in C++ with the GIL released, at about half the CPU a row of ``JSONCompactColumns``
text costs. Times and UUIDs travel as text and are cast by ClickHouse with the same
best-effort parser the text formats use. A block Arrow cannot take as is (a ``bool`` where
the table has an integer, a number where it has text) goes as ``JSONCompactColumns``.

One process at a time owns the directory; a second one fails to start the embedded server,
which is reported as ``Busy``. One process can hold one directory at a time, too: close the
warehouse before opening another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pyarrow as pa
from chdb import session as chdb_session

from ugc.adapters.clickhouse.base import (
    ARROW_COLUMN,
    Capabilities,
    Warehouse,
    WarehouseQueryError,
    server_code,
    short,
    to_python,
)
from ugc.errors import Busy, UgcError

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_SESSION_SETTINGS = (
    "SET output_format_json_quote_64bit_integers = 0",
    "SET date_time_input_format = 'best_effort'",
    # String -> DateTime64 in INSERT ... SELECT FROM Python(): the parser of the line above
    "SET cast_string_to_date_time_mode = 'best_effort'",
)
_ARROW_PLAIN = {
    "String": pa.string(),
    "UUID": pa.string(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
}
_WRAPPER = re.compile(r"^(Nullable|LowCardinality)\((.*)\)$")


def arrow_type(sql_type: str) -> pa.DataType | None:
    """The Arrow type a ClickHouse column is sent as; ``None``: not supported, send text."""
    while match := _WRAPPER.match(sql_type):
        sql_type = match.group(2)
    if sql_type.startswith(("DateTime", "Date")):
        return pa.string()
    if sql_type.startswith("Array(") and sql_type.endswith(")"):
        inner = arrow_type(sql_type[6:-1])
        return None if inner is None else pa.list_(inner)
    return _ARROW_PLAIN.get(sql_type)


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "UInt8"
    if isinstance(value, int):
        return "Int64" if value < 2**63 else "UInt64"
    if isinstance(value, float):
        return "Float64"
    return "String"


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class EmbeddedWarehouse(Warehouse):
    kind = "embedded"
    database = "default"

    def __init__(self, url: str) -> None:
        self.path = Path(urlsplit(url).path or ".").resolve()
        self.url = f"chdb://{self.path}"
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._session = chdb_session.Session(str(self.path))
        except RuntimeError as exc:
            text = str(exc)
            if "EmbeddedServer" in text:
                raise Busy(
                    f"the warehouse at {self.path} is in use by another process "
                    "(chdb lets one process own its directory)",
                    hint="wait for the other ugc command to finish, or use a ClickHouse server",
                ) from exc
            raise UgcError(f"cannot open the warehouse at {self.path}: {short(text)}") from exc
        for statement in _SESSION_SETTINGS:
            self._run(statement)
        version = self.query("SELECT version()")[0][0]
        self.capabilities = Capabilities.from_version(str(version))
        self._arrow_types: dict[str, dict[str, pa.DataType | None]] = {}

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        result = self._run(sql, params, fmt="JSONCompact")
        raw = result.bytes()
        if not raw:
            return []
        return [tuple(row) for row in orjson.loads(raw)["data"]]

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        data: Sequence[Sequence[Any]],
        *,
        settings: Mapping[str, Any] | None = None,
    ) -> int:
        if not data or not data[0]:
            return 0
        clause = ""
        if settings:
            clause = " SETTINGS " + ", ".join(
                f"{name} = {_literal(value)}" for name, value in settings.items()
            )
        head = f"INSERT INTO {table} ({', '.join(columns)}){clause}"
        block = self._arrow_block(table, columns, data)
        if block is None:
            data = [to_python(values) for values in data]
            self._run(head.encode() + b" FORMAT JSONCompactColumns " + orjson.dumps(data))
        else:
            # chdb finds the table by this name in the calling frames; nothing is formatted in
            self._run(f"{head} SELECT * FROM Python(_ugc_arrow_block)", python_table=block)
        return len(data[0])

    def _arrow_block(
        self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]
    ) -> pa.Table | None:
        types = self._arrow_types.get(table)
        if types is None or not types.keys() >= set(columns):
            types = self._arrow_types[table] = {
                name: arrow_type(kind) for name, kind in self.describe(table)
            }
        arrays = []
        for name, values in zip(columns, data, strict=True):
            kind = types.get(name)
            if kind is None:
                return None
            try:
                if isinstance(values, ARROW_COLUMN):
                    arrays.append(values if values.type == kind else values.cast(kind))
                else:
                    arrays.append(pa.array(values, kind))
            except (pa.ArrowException, ValueError, TypeError, OverflowError):
                # out of range, a lone surrogate, a bool for an integer: the text path decides
                return None
        return pa.Table.from_arrays(arrays, names=list(columns))

    def close(self) -> None:
        session, self._session = getattr(self, "_session", None), None
        if session is not None:
            session.close()

    def _run(
        self,
        sql: str | bytes,
        params: Mapping[str, Any] | None = None,
        fmt: str = "CSV",
        *,
        python_table: pa.Table | None = None,
    ) -> Any:
        if self._session is None:
            raise UgcError(f"the warehouse at {self.path} is closed")
        chdb_params = None
        if params:
            assert isinstance(sql, str)
            sql = _PLACEHOLDER.sub(
                lambda m: f"{{{m.group(1)}:{_param_type(params[m.group(1)])}}}", sql
            )
            chdb_params = {name: _param_text(value) for name, value in params.items()}
        _ugc_arrow_block = python_table  # noqa: F841 - read by chdb's Python() table function
        try:
            return self._session.query(sql, fmt, params=chdb_params)
        except RuntimeError as exc:
            text = str(exc)
            raise WarehouseQueryError(
                f"the warehouse at {self.path} refused a statement: {short(text)}",
                server_code=server_code(text),
            ) from exc


def _literal(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
