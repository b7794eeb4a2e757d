"""The migrations build, on both backends, exactly the tables the registry describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ugc.adapters.clickhouse import connect
from ugc.adapters.clickhouse.migrate import applied, discover, migrate, render, statements
from ugc.errors import WarehouseUnavailable
from ugc.events import REGISTRY
from ugc.events.columns import table_columns


def test_every_event_table_matches_the_registry(warehouse):
    with warehouse.open() as wh:
        modern = wh.capabilities.modern
        assert modern is (warehouse.backend == "chdb")
        mismatches = {}
        for event_type in REGISTRY:
            expected = [(c.name, c.sql_type(modern)) for c in table_columns(event_type)]
            actual = wh.describe(event_type.table)
            if actual != expected:
                mismatches[event_type.table] = (actual, expected)
            assert wh.describe(f"v_{event_type.table}") == expected
    assert not mismatches, f"DDL and registry disagree: {mismatches}"


def test_a_registry_without_its_table_fails_the_comparison(warehouse):
    """The comparison above really compares: a column the DDL lacks is caught."""
    event_type = REGISTRY.get("like")
    with warehouse.open() as wh:
        actual = wh.describe(event_type.table)
        wh.execute(f"ALTER TABLE {event_type.table} DROP COLUMN action")
        assert wh.describe(event_type.table) != actual


def test_migrate_is_idempotent_and_recorded(warehouse):
    with warehouse.open() as wh:
        assert migrate(wh) == []
        versions = sorted(applied(wh))
        assert versions == [m.version for m in discover()]


def test_placeholders_follow_the_capability_switch():
    sql = "a {ts}, b {lowcard}, c {lowcard_null}, d {other}"
    assert render(sql, True) == (
        "a DateTime64(3, 'UTC'), b LowCardinality(String), "
        "c LowCardinality(Nullable(String)), d {other}"
    )
    assert render(sql, False) == "a DateTime('UTC'), b String, c Nullable(String), d {other}"
    assert statements("-- c\nSELECT 1;\n\nSELECT 2;\n") == ["SELECT 1", "SELECT 2"]


def test_chdb_directory_owned_by_another_process_is_busy(tmp_path: Path):
    import subprocess
    import sys

    from ugc.errors import Busy as BusyError

    url = f"chdb://{tmp_path / 'wh'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ugc.adapters.clickhouse import connect; "
            f"w = connect({url!r}); print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(BusyError, match="in use by another process"):
            connect(url)
    finally:
        holder.kill()
        holder.wait()


def test_unreachable_server_is_warehouse_unavailable():
    from tests.support.services import free_port

    with pytest.raises(WarehouseUnavailable, match="unreachable"):
        connect(f"clickhouse://default:@127.0.0.1:{free_port()}/default")


def test_values_round_trip_on_both_backends(warehouse):
    row = {
        "topic": "t",
        "kafka_partition": 3,
        "kafka_offset": 2**40,
        "kafka_key": None,
        "kafka_timestamp": "2026-11-23T18:32:56.123Z",
        "reason": "bad_json",
        "error": 'it\'s \\ "quoted"',
        "event_type": "",
        "event_id": "",
        "payload": "{not json ünïcode",
        "payload_encoding": "utf8",
        "dead_lettered_at": "2026-11-23T18:33:00.000Z",
        "load_run_id": "r1",
    }
    with warehouse.open() as wh:
        wh.insert("dead_letters", list(row), [[v] for v in row.values()])
        got = wh.query(
            "SELECT kafka_offset, kafka_key, toString(kafka_timestamp), error, payload "
            "FROM v_dead_letters WHERE load_run_id = %(run)s",
            {"run": "r1"},
        )
    stamp = "2026-11-23 18:32:56.123" if warehouse.backend == "chdb" else "2026-11-23 18:32:56"
    assert got == [(2**40, None, stamp, row["error"], row["payload"])]


def test_chdb_arrow_blocks_and_the_text_fallback_store_the_same_values(chdb_warehouse):
    """chdb takes blocks as Arrow tables; a block Arrow refuses (here a bool where the table
    has an integer) goes as JSON text. Both must store the same values."""
    columns = ["topic", "kafka_partition", "kafka_offset", "kafka_key", "kafka_timestamp"]
    columns += ["reason", "error", "payload", "dead_lettered_at", "load_run_id"]
    arrow = ["t", 1, 2**40, None, "2026-11-23T18:32:56.123Z"]
    arrow += ["bad_json", 'it\'s \\ "q"', "ünï", "2026-11-23T18:33:00.000Z", "arrow"]
    text = [*arrow[:-1], "text"]
    text[1] = True  # UInt32: Arrow refuses a bool, the text path stores 1
    with chdb_warehouse.open() as wh:
        for row in (arrow, text):
            assert wh.insert("dead_letters", columns, [[v] for v in row]) == 1
        got = wh.query(
            "SELECT load_run_id, kafka_partition, kafka_offset, kafka_key, "
            "toString(kafka_timestamp), error, payload FROM dead_letters ORDER BY load_run_id"
        )
    same = (1, 2**40, None, "2026-11-23 18:32:56.123", arrow[6], "ünï")
    assert got == [("arrow", *same), ("text", *same)]
