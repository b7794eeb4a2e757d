"""ClickHouse columns derived from the registry: one table per event type.

Each table holds the canonical record's common columns, then the type's own fields, then
where the row came from in Kafka. Types are written once, as logical types, and rendered
for the server at hand by the one capability switch, ``modern``:

==============  ============================  =========================================
logical         modern (chdb, ClickHouse 20+)   legacy (Debian's clickhouse-server 18.16)
==============  ============================  =========================================
ts              DateTime64(3, 'UTC')          DateTime('UTC')   (milliseconds dropped)
lowcard         LowCardinality(String)        String
==============  ============================  =========================================

Everything else (UUID, String, integers, Array(String), Nullable) is the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass

from ugc.events.record import CONTEXT_FIELDS
from ugc.events.registry import EventType, Field

_PLAIN = {
    "uuid": "UUID",
    "string": "String",
    "strings": "Array(String)",
    "uint8": "UInt8",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
    "int64": "Int64",
}


@dataclass(frozen=True)
class Column:
    name: str
    logical: str
    nullable: bool = False
    #: where the value comes from in the canonical record: "", "context" or "data";
    #: "" with a name in LOAD_COLUMNS means the loader fills it
    source: str = ""

    def sql_type(self, modern: bool) -> str:
        if self.logical == "ts":
            base = "DateTime64(3, 'UTC')" if modern else "DateTime('UTC')"
        elif self.logical == "lowcard":
            if modern:
                inner = "Nullable(String)" if self.nullable else "String"
                return f"LowCardinality({inner})"
            base = "String"
        else:
            base = _PLAIN[self.logical]
        return f"Nullable({base})" if self.nullable else base


COMMON_COLUMNS = (
    Column("event_id", "uuid"),
    Column("event_type", "lowcard"),
    Column("schema_version", "uint16"),
    Column("envelope", "lowcard"),
    Column("user_id", "string"),
    Column("claimed_user_id", "string", nullable=True),
    Column("identity_source", "lowcard"),
    Column("session_id", "string", nullable=True),
    Column("received_at", "ts"),
    Column("client_event_at", "ts", nullable=True),
    Column("client_sent_at", "ts", nullable=True),
    Column("event_at", "ts"),
    Column("country", "lowcard", nullable=True, source="context"),
    Column("device", "lowcard", nullable=True, source="context"),
    Column("page_url", "string", nullable=True, source="context"),
    Column("referrer", "string", nullable=True, source="context"),
    Column("user_agent", "string", nullable=True, source="context"),
)
assert tuple(c.name for c in COMMON_COLUMNS if c.source == "context") == CONTEXT_FIELDS

LOAD_COLUMNS = (
    Column("kafka_partition", "uint32"),
    Column("kafka_offset", "uint64"),
    Column("loaded_at", "ts"),
    Column("load_run_id", "string"),
)


def field_column(spec: Field) -> Column:
    """The column for one of a type's own fields."""
    if spec.kind == "int":
        small = (
            (spec.minimum or 0) >= 0 and (spec.maximum or 0) < 2**32 and spec.maximum is not None
        )
        logical = "uint32" if small else "int64"
    else:
        logical = {
            "string": "string",
            "uuid": "uuid",
            "bool": "uint8",
            "enum": "lowcard",
            "strings": "strings",
        }[spec.kind]
    nullable = not spec.required and spec.kind != "strings"
    return Column(spec.name, logical, nullable=nullable, source="data")


def table_columns(event_type: EventType) -> tuple[Column, ...]:
    """Every column of an event type's table, in table order."""
    return (*COMMON_COLUMNS, *(field_column(f) for f in event_type.fields), *LOAD_COLUMNS)
