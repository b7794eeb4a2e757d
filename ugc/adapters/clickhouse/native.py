"""ClickHouse server over the native protocol (clickhouse-driver): the production path."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from ugc.adapters.clickhouse.base import (
    UNKNOWN_DATABASE,
    Capabilities,
    Warehouse,
    WarehouseQueryError,
    short,
    to_python,
)
from ugc.adapters.clickhouse.timeconv import column_to_ms, column_to_s
from ugc.errors import WarehouseUnavailable
from ugc.settings import redact_url

# connection failures are translated below; the driver's own warnings (with tracebacks) would
# only repeat them on stderr
logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)

_DOWN = (
    driver_errors.NetworkError,
    driver_errors.SocketTimeoutError,
    EOFError,
    ConnectionError,
    socket.timeout,
    OSError,
)


_new, _set = object.__new__, object.__setattr__


def column_to_uuid(values: Any) -> list[uuid.UUID | None]:
    """UUID text as ``uuid.UUID``s, at half the cost of ``UUID(text)``, which the driver
    would call: the same digits, read the same way (``int(hex, 16)``), without the rest of
    its constructor. Text that is not 32 hex digits and dashes goes through ``UUID(text)``,
    which takes braces and prefixes and raises on what is not a UUID."""
    out: list[uuid.UUID | None] = []
    append = out.append
    for text in to_python(values):
        if text is None:
            append(None)
            continue
        digits = text.replace("-", "")
        try:
            if len(digits) != 32:
                raise ValueError(text)
            number = int(digits, 16)
        except ValueError:
            append(uuid.UUID(text))
            continue
        value = _new(uuid.UUID)
        _set(value, "int", number)
        append(value)
    return out


class NativeWarehouse(Warehouse):
    kind = "native"

    def __init__(self, url: str, *, create_database: bool = False) -> None:
        self.url = redact_url(url)
        parts = urlsplit(url)
        self.database = parts.path.strip("/") or "default"
        self._client = Client.from_url(url)
        self._client.connection.connect_timeout = 3
        self._client.connection.send_receive_timeout = 300
        self._converters: dict[str, dict[str, Callable[[list[Any]], list[Any]]]] = {}
        if create_database:
            self._create_database(url)
        version = self.scalar("SELECT version()")
        self.capabilities = Capabilities.from_version(str(version))

    def _create_database(self, url: str) -> None:
        admin = Client.from_url(urlsplit(url)._replace(path="/default").geturl())
        try:
            self._call(admin.execute, f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        finally:
            admin.disconnect()

    # ------------------------------------------------------------------ the interface
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._call(self._client.execute, sql, params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        rows = self._call(self._client.execute, sql, params)
        return [tuple(str(v) if isinstance(v, uuid.UUID) else v for v in row) for row in rows]

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
        converters = self._table_converters(table)
        block = [
            converters[name](values) if name in converters else to_python(values)
            for name, values in zip(columns, data, strict=True)
        ]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
        self._call(
            self._client.execute,
            sql,
            block,
            columnar=True,
            types_check=False,
            settings=dict(settings or {}),
        )
        return len(data[0])

    def close(self) -> None:
        self._client.disconnect()

    # ------------------------------------------------------------------ internals
    def _table_converters(self, table: str) -> dict[str, Callable[[list[Any]], list[Any]]]:
        """Which columns need converting for the driver (ISO text into epoch integers, UUID
        text into ``UUID``s), learnt once per table."""
        if table not in self._converters:
            found: dict[str, Callable[[list[Any]], list[Any]]] = {}
            for name, kind in self.describe(table):
                if "DateTime64" in kind:
                    found[name] = column_to_ms
                elif "DateTime" in kind:
                    found[name] = column_to_s
                elif kind in ("UUID", "Nullable(UUID)"):
                    found[name] = column_to_uuid
            self._converters[table] = found
        return self._converters[table]

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except driver_errors.ServerException as exc:
            if exc.code == UNKNOWN_DATABASE:
                raise WarehouseQueryError(
                    f"database {self.database!r} does not exist at {self.url}; "
                    "run `ugc db migrate` first",
                    server_code=exc.code,
                ) from exc
            raise WarehouseQueryError(
                f"ClickHouse at {self.url} refused a statement: {short(exc.message)}",
                server_code=exc.code,
            ) from exc
        except _DOWN as exc:
            self._client.disconnect()
            raise WarehouseUnavailable(
                f"ClickHouse at {self.url} is unreachable: {short(str(exc)) or type(exc).__name__}",
                hint="check that the server is running and UGC_CLICKHOUSE_URL",
            ) from exc
        except driver_errors.Error as exc:
            raise WarehouseQueryError(
                f"ClickHouse at {self.url}: {short(str(exc))}",
                server_code=getattr(exc, "code", None),
            ) from exc
