"""ClickHouse adapter: the only package that imports clickhouse_driver and chdb.

``connect(url)`` picks the backend from the URL scheme::

    clickhouse://user:password@host:9000/db   a server, native protocol (clickhouse-driver)
    chdb:///abs/dir                            embedded ClickHouse in this process (chdb)

Both give a ``Warehouse`` (``execute``, ``query``, ``insert``, ``capabilities.modern``,
``close``). Errors leave as ``ugc.errors``: an unreachable server is ``WarehouseUnavailable``,
a chdb directory owned by another process is ``Busy``, a refused statement is
``WarehouseQueryError``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ugc.adapters.clickhouse.base import (
    TABLE_ALREADY_EXISTS,
    UNKNOWN_TABLE,
    Capabilities,
    Warehouse,
    WarehouseQueryError,
)
from ugc.errors import ConfigError


def connect(url: str, *, create_database: bool = False) -> Warehouse:
    """Open the warehouse at ``url`` (nothing is imported or opened before this call)."""
    scheme = urlsplit(url).scheme
    if scheme == "clickhouse":
        from ugc.adapters.clickhouse.native import NativeWarehouse

        return NativeWarehouse(url, create_database=create_database)
    if scheme == "chdb":
        from ugc.adapters.clickhouse.embedded import EmbeddedWarehouse

        return EmbeddedWarehouse(url)
    raise ConfigError(f"not a warehouse URL: {url!r} (use clickhouse://... or chdb:///dir)")


__all__ = [
    "TABLE_ALREADY_EXISTS",
    "UNKNOWN_TABLE",
    "Capabilities",
    "Warehouse",
    "WarehouseQueryError",
    "connect",
]
