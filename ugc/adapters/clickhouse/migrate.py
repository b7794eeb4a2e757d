"""Versioned migrations from ``clickhouse/migrations/NNN_name.sql``, one SQL set for both servers.

The files hold plain ClickHouse DDL with three placeholders, rendered by the one capability
switch (``ugc.events.columns``):

===============  ==============================  ======================
placeholder      modern (chdb, ClickHouse 20+)   Debian's 18.16 server
===============  ==============================  ======================
``{ts}``         DateTime64(3, 'UTC')            DateTime('UTC')
``{lowcard}``    LowCardinality(String)          String
``{lowcard_null}`` LowCardinality(Nullable(String))  Nullable(String)
===============  ==============================  ======================

Every statement is idempotent (``IF NOT EXISTS``), so a migration interrupted half-way is
simply applied again; a version is recorded in ``schema_migrations`` once all of its
statements ran.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ugc.adapters.clickhouse.base import Warehouse
from ugc.errors import ConfigError
from ugc.events.columns import Column

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{(ts|lowcard|lowcard_null)\}")
MIGRATIONS_TABLE = "schema_migrations"
_CREATE_MIGRATIONS = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(version UInt32, name String, checksum String, applied_at DateTime('UTC'))
ENGINE = MergeTree() ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


def default_dir() -> Path:
    """``clickhouse/migrations`` at the root of the source tree ugc runs from."""
    return Path(__file__).resolve().parents[3] / "clickhouse" / "migrations"


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or default_dir()
    if not directory.is_dir():
        raise ConfigError(f"no migrations directory at {directory}")
    found = []
    for path in sorted(directory.iterdir()):
        match = _FILE.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"two migrations share a version number in {directory}")
    return found


def render(sql: str, modern: bool) -> str:
    """Fill the capability placeholders with the types of ``ugc.events.columns``."""
    types = {
        "ts": Column("x", "ts").sql_type(modern),
        "lowcard": Column("x", "lowcard").sql_type(modern),
        "lowcard_null": Column("x", "lowcard", nullable=True).sql_type(modern),
    }
    return _PLACEHOLDER.sub(lambda m: types[m.group(1)], sql)


def statements(sql: str) -> list[str]:
    """Split a file into statements (``;`` at the end of a line), dropping ``--`` comments."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [part.strip() for part in parts if part.strip()]


def applied(warehouse: Warehouse) -> dict[int, tuple[str, str, object]]:
    """version -> (name, checksum, applied_at) of what this warehouse has recorded."""
    if MIGRATIONS_TABLE not in warehouse.tables():
        return {}
    rows = warehouse.query(
        f"SELECT version, name, checksum, applied_at FROM {MIGRATIONS_TABLE} ORDER BY version"
    )
    return {int(row[0]): (row[1], row[2], row[3]) for row in rows}


def migrate(warehouse: Warehouse, directory: Path | None = None) -> list[Migration]:
    """Apply every migration not yet recorded, in order; return the ones applied now."""
    warehouse.execute(_CREATE_MIGRATIONS)
    done = applied(warehouse)
    ran = []
    for migration in discover(directory):
        if migration.version in done:
            continue
        for statement in statements(render(migration.text, warehouse.capabilities.modern)):
            warehouse.execute(statement)
        warehouse.insert(
            MIGRATIONS_TABLE,
            ["version", "name", "checksum", "applied_at"],
            [[migration.version], [migration.name], [migration.checksum], [_now_iso()]],
        )
        ran.append(migration)
    return ran


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
