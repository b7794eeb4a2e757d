"""``ugc etl run`` against the real broker, on both warehouse backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from click.testing import CliRunner

from tests.support.warehouse import (
    canonical_record,
    encode,
    etl_settings,
    loaded_counts,
    message_positions,
    produce,
)
from ugc.adapters.kafka.admin import create_topic
from ugc.cli import cli
from ugc.errors import ConfigError
from ugc.etl import RunOptions, etl_status, run_etl
from ugc.events import REGISTRY

PER_TYPE = 25
BAD = [
    (b"like", b"{not json"),
    (b"teleport", b'{"event_type": "teleport"}'),
    (b"like", b"[1, 2, 3]"),
    (b"like", b"\xff\xfe\x00binary"),
    (None, None),
]


def _known_dataset() -> tuple[list[dict], list[tuple[bytes | None, bytes | None]]]:
    records = [canonical_record(t.name) for t in REGISTRY for _ in range(PER_TYPE)]
    messages = [encode(r) for r in records]
    invalid = canonical_record("quality_change")
    invalid["data"]["old_quality"] = 0
    mismatch = canonical_record("like")
    messages += BAD + [encode(invalid), (b"video_complete", orjson.dumps(mismatch))]
    return records, messages


@pytest.mark.parametrize("partitions", [1, 4])
def test_every_type_lands_in_its_table_and_bad_messages_in_dead_letters(
    kafka_broker, warehouse, topic_name, partitions
):
    create_topic(kafka_broker.bootstrap, topic_name, partitions)
    records, messages = _known_dataset()
    produce(kafka_broker.bootstrap, topic_name, messages)
    settings = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url)

    summary = run_etl(settings, RunOptions(batch_size=37))

    assert summary.loaded == len(records)
    assert summary.dead_lettered == len(BAD) + 2
    assert summary.reasons == {
        "bad_json": 3,
        "unknown_type": 1,
        "not_an_object": 1,
        "invalid": 1,
        "key_mismatch": 1,
    }
    counts = loaded_counts(warehouse)
    assert counts == {**{t.table: PER_TYPE for t in REGISTRY}, "dead_letters": len(BAD) + 2}
    assert message_positions(warehouse) == sorted(
        (p.partition, o) for p in summary.partitions for o in range(p.end)
    )
    # the ledger accounts for every offset, and the group sees the same positions
    status = etl_status(settings)
    assert status["lag"] == 0
    for row in status["partitions"]:
        if row["high_watermark"]:  # keys hash to partitions: one may have stayed empty
            assert row["ledger_position"] == row["high_watermark"] == row["group_committed"]
    ledger = warehouse.rows(
        "SELECT sum(rows_loaded), sum(rows_dead_lettered), sum(last_offset - first_offset + 1) "
        "FROM load_ledger"
    )
    assert [tuple(map(int, ledger[0]))] == [(len(records), len(BAD) + 2, len(messages))]
    # a second run finds nothing new
    again = run_etl(settings, RunOptions())
    assert (again.loaded, again.dead_lettered) == (0, 0)


def test_values_arrive_intact(kafka_broker, warehouse, topic_name):
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    when = datetime(2026, 11, 23, 18, 32, 56, 123000, tzinfo=UTC)
    film = canonical_record(
        "film_added",
        received_at=when,
        data={
            "vendor_id": "vendor-7",
            "film_id": "tt1",
            "title": "Сталкер \"quoted\" 'single'",
            "content_type": "film",
            "release_year": 1979,
            "genres": ["drama", "sci-fi"],
        },
        context={"country": "RU", "device": None, "page_url": "https://x/y?z=1"},
    )
    complete = canonical_record(
        "video_complete", received_at=when, data={"video_id": "v1", "duration_total": False}
    )
    produce(kafka_broker.bootstrap, topic_name, [encode(film), encode(complete)])
    run_etl(etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url), RunOptions())

    [row] = warehouse.rows(
        "SELECT toString(event_id), user_id, title, content_type, release_year, genres, "
        "duration_s, country, device, page_url, user_agent, toString(event_at), "
        "kafka_partition, kafka_offset FROM v_events_film_added"
    )
    stamp = "2026-11-23 18:32:56" + (".123" if warehouse.backend == "chdb" else "")
    assert row == (
        film["event_id"],
        "user-1",
        film["data"]["title"],
        "film",
        1979,
        ["drama", "sci-fi"],
        None,
        "RU",
        None,
        "https://x/y?z=1",
        "pytest",
        stamp,
        0,
        0,
    )
    [(total, position)] = warehouse.rows(
        "SELECT duration_total, duration_s FROM v_events_video_complete"
    )
    assert (total, position) == (0, None)


def test_since_until_windows_then_resume_from_the_ledger(kafka_broker, warehouse, topic_name):
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    windows = [base, base + timedelta(hours=1), base + timedelta(hours=2)]
    messages, stamps = [], []
    for index, start in enumerate(windows):
        for n in range(10 * (index + 1)):
            messages.append(encode(canonical_record("like")))
            stamps.append(int((start + timedelta(seconds=n)).timestamp() * 1000))
    produce(kafka_broker.bootstrap, topic_name, messages, timestamps=stamps)
    settings = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url)

    window = run_etl(settings, RunOptions(since=windows[1], until=windows[2]))
    assert (window.loaded, window.skipped) == (20, window.skipped)
    assert loaded_counts(warehouse)["events_like"] == 20
    assert warehouse.rows("SELECT min(kafka_offset), max(kafka_offset) FROM v_events_like") == [
        (10, 29)
    ]
    # without flags the partition resumes at its ledger position: window 3, not window 1
    rest = run_etl(settings, RunOptions(since=windows[0]))
    assert rest.loaded == 30
    assert loaded_counts(warehouse)["events_like"] == 50
    # --replay re-reads from --since: raw rows double, readers still see each event once
    replay = run_etl(settings, RunOptions(since=windows[0], replay=True))
    assert replay.loaded == 60
    assert loaded_counts(warehouse)["events_like"] == 60
    raw = warehouse.rows(
        "SELECT count(), uniqExact(kafka_partition, kafka_offset) FROM events_like"
    )
    assert [tuple(map(int, raw[0]))] in ([(110, 60)], [(60, 60)])  # before or after a merge


def test_max_events_and_dry_run(kafka_broker, warehouse, topic_name):
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    produce(
        kafka_broker.bootstrap, topic_name, [encode(canonical_record("like")) for _ in range(50)]
    )
    settings = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url)

    dry = run_etl(settings, RunOptions(dry_run=True))
    assert dry.loaded == 50 and loaded_counts(warehouse)["events_like"] == 0
    first = run_etl(settings, RunOptions(max_events=20, batch_size=7))
    assert first.loaded == 20
    rest = run_etl(settings, RunOptions())
    assert rest.loaded == 30
    assert message_positions(warehouse) == [(0, o) for o in range(50)]


def test_cli_run_and_status_json(kafka_broker, warehouse, topic_name, monkeypatch):
    create_topic(kafka_broker.bootstrap, topic_name, 2)
    produce(
        kafka_broker.bootstrap, topic_name, [encode(canonical_record("like")) for _ in range(30)]
    )
    args = ["--bootstrap", kafka_broker.bootstrap, "--topic", topic_name, "--url", warehouse.url]
    runner = CliRunner()

    result = runner.invoke(cli, ["etl", "run", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output.strip().splitlines()[-1])
    assert (summary["status"], summary["loaded"], summary["lag"]) == ("ok", 30, 0)
    assert summary["tables"] == {"events_like": 30}

    result = runner.invoke(cli, ["etl", "status", *args, "--json"], catch_exceptions=False)
    status = orjson.loads(result.output)
    assert status["lag"] == 0 and status["last_run"]["status"] == "ok"
    assert sum(p["ledger_position"] or 0 for p in status["partitions"]) == 30

    result = runner.invoke(cli, ["etl", "status", *args], catch_exceptions=False)
    assert "total lag 0" in result.output


def test_unmigrated_warehouse_and_missing_topic_are_config_errors(
    kafka_broker, tmp_path, topic_name, chdb_warehouse
):
    settings = etl_settings(kafka_broker.bootstrap, topic_name, f"chdb://{tmp_path / 'empty'}")
    with pytest.raises(ConfigError, match="ugc db migrate"):
        run_etl(settings, RunOptions())
    with pytest.raises(ConfigError, match="ugc db migrate"):
        etl_status(settings)
    migrated = etl_settings(kafka_broker.bootstrap, topic_name, chdb_warehouse.url)
    with pytest.raises(ConfigError, match="does not exist"):
        run_etl(migrated, RunOptions())
