"""``ugc quality check`` on both backends, data loaded through the real path (broker + ETL).

Two warehouses per backend: a clean dataset (exit 0, nothing flagged) and the same dataset
with known problems injected (exit 5), each found with its count and location:

* a message published twice (duplicates: the table, both offsets);
* a silent hour, 03:00 (time gaps: the hour, overall and per type);
* a page_view_start without end and an end without start (completeness: ids, hours);
* a message that is not JSON (dead letters: the reason and its partition/offset);
* a row lost after the load (offset gaps: the exact missing offset);
* an unknown quality (999) and a negative time on page (completeness, warnings);
* a row with an empty required field, written behind the ETL's back (completeness, error).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.test_quality_dataset import T0, Dataset, load_through_etl
from tests.support.warehouse import (
    WarehouseHandle,
    make_chdb_warehouse,
    make_server_warehouse,
)
from ugc.cli import main

SINCE, UNTIL = "2026-10-05T00:00:00Z", "2026-10-05T06:00:00Z"
SILENT_HOUR = 3


@dataclass
class Known:
    """What was injected, by offset and id, to compare with what the check reports."""

    duplicate_id: str = ""
    duplicate_offsets: list[int] = field(default_factory=list)
    orphan_start: str = ""
    orphan_end: str = ""
    negative_view: str = ""
    bad_offset: int = -1
    lost_offset: int = -1
    events: int = 0


def build(problems: bool) -> tuple[Dataset, Known]:
    data, known = Dataset(), Known()
    for h in range(6):
        if problems and h == SILENT_HOUR:
            continue
        for i in range(12):
            at = T0 + timedelta(hours=h, minutes=i * 5)
            user = "anonymous" if i % 4 == 0 else f"user-{i % 5}"
            click = data.add(
                "element_click",
                {"element_type": ("movie", "trailer", "button")[i % 3], "page_type": "main"},
                at=at,
                user_id=user,
            )
            if problems and (h, i) == (0, 0):
                duplicate = click
            if problems and (h, i) == (4, 5):
                known.lost_offset = len(data.items) - 1
            view = data.next_uuid()
            data.add("page_view_start", {"page_view_id": view, "page_type": "movie"}, at=at)
            if problems and (h, i) == (1, 0):
                known.orphan_start = view
            else:
                seconds = -30 if problems and (h, i) == (4, 7) else 10 + i
                if seconds < 0:
                    known.negative_view = view
                data.add(
                    "page_view_end",
                    {"page_view_id": view, "page_type": "movie"},
                    at=at + timedelta(seconds=seconds),
                )
            quality = 999 if problems and (h, i) == (2, 3) else (1080 if i % 2 else 480)
            data.add(
                "quality_change",
                {"video_id": f"v{i % 3}", "old_quality": 720, "new_quality": quality},
                at=at,
            )
            data.add(
                "video_complete",
                {"video_id": f"v{i % 3}", "duration_total": i % 2 == 0, "duration_s": 3600},
                at=at,
            )
            data.add("search_filter", {"search_query": "", "filters": "genre=drama"}, at=at)
            data.add(
                "film_added",
                {
                    "vendor_id": f"vendor-{i % 3}",
                    "film_id": f"f{h}-{i}",
                    "title": "t",
                    "genres": [],
                },
                at=at,
            )
    if problems:
        orphan_end = data.next_uuid()
        known.orphan_end = orphan_end
        data.add(
            "page_view_end",
            {"page_view_id": orphan_end, "page_type": "main"},
            at=T0 + timedelta(hours=2, minutes=1),
        )
        known.bad_offset = len(data.items)
        data.add_raw("element_click", b"{not json")
        known.duplicate_id = duplicate["event_id"]
        known.duplicate_offsets = [data.items.index(_item(data, duplicate)), len(data.items)]
        data.add_record(duplicate)
    known.events = len(data.records())
    return data, known


def _item(data: Dataset, record: dict[str, Any]) -> Any:
    return next(m for m in data.items if m.record is record)


@dataclass
class Loaded:
    handle: WarehouseHandle
    topic: str
    known: Known


def _load(handle: WarehouseHandle, problems: bool, broker: Any, tmp: Path) -> Loaded:
    topic = f"q.{uuid.uuid4().hex[:10]}"
    data, known = build(problems)
    load_through_etl(
        data, bootstrap=broker.bootstrap, topic=topic, warehouse_url=handle.url, data_dir=str(tmp)
    )
    if problems:
        _delete_offset(handle, "events_element_click", known.lost_offset)
        _insert_row_without_page_type(handle, data, known.bad_offset)
    return Loaded(handle, topic, known)


def _insert_row_without_page_type(handle: WarehouseHandle, data: Dataset, offset: int) -> None:
    """A row the ETL would never write (empty required page_type), put there behind its back,
    at the dead letter's position so that offsets stay accounted for."""
    from ugc.events import REGISTRY
    from ugc.events.columns import table_columns

    record = dict(data.records()[0], event_id=data.next_uuid())
    record["data"] = dict(record["data"], page_type="")
    loads = {"kafka_partition": 0, "kafka_offset": offset, "loaded_at": record["received_at"],
             "load_run_id": "injected"}  # fmt: skip
    columns, values = [], []
    for column in table_columns(REGISTRY.get("element_click")):
        source = {"context": record["context"], "data": record["data"]}.get(column.source, record)
        columns.append(column.name)
        values.append([loads[column.name] if column.name in loads else source.get(column.name)])
    with handle.open() as wh:
        wh.insert("events_element_click", columns, values)


def _delete_offset(handle: WarehouseHandle, table: str, offset: int) -> None:
    """Lose one loaded row (a mutation; the 18.16 server applies it in the background)."""
    with handle.open() as wh:
        wh.execute(f"ALTER TABLE {table} DELETE WHERE kafka_offset = %(o)s", {"o": offset})
        deadline = time.monotonic() + 20
        while wh.scalar(f"SELECT count() FROM {table} WHERE kafka_offset = %(o)s", {"o": offset}):
            assert time.monotonic() < deadline, "the delete mutation did not finish"
            time.sleep(0.1)


@pytest.fixture(scope="module", params=["server", "chdb"])
def loaded(
    request: pytest.FixtureRequest, kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Loaded]:
    tmp = tmp_path_factory.mktemp(f"quality-{request.param}")
    out = {}
    for name, problems in (("clean", False), ("problems", True)):
        if request.param == "server":
            handle = make_server_warehouse(request.getfixturevalue("clickhouse_server").url)
        else:
            handle = make_chdb_warehouse(tmp / f"{name}-warehouse")
        out[name] = _load(handle, problems, kafka_broker, tmp / name)
    return out


def run_cli(
    loaded: Loaded, tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, *extra: str
) -> tuple[int, dict[str, Any], str]:
    monkeypatch.setenv("UGC_KAFKA_TOPIC", loaded.topic)
    monkeypatch.setenv("UGC_LOG_LEVEL", "warning")
    args = ["quality", "check", "--url", loaded.handle.url, "--since", SINCE, "--until", UNTIL,
            "--report-dir", str(tmp), "--json", *extra]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code), orjson.loads(out), err


def test_clean_dataset_passes(loaded, tmp_path, monkeypatch, capsys) -> None:
    code, report, err = run_cli(loaded["clean"], tmp_path, monkeypatch, capsys)
    assert code == 0, (report["errors"], err)
    assert report["status"] == "passed", report["warnings"]
    checks = report["checks"]
    assert set(checks) == {"duplicates", "offset_gaps", "time_gaps", "freshness",
                           "completeness", "dead_letters"}  # fmt: skip
    assert checks["duplicates"]["summary"]["duplicate_ids"] == 0
    assert checks["offset_gaps"]["summary"] == {
        "partitions": 1, "missing": 0, "unexplained": 0, "beyond_ledger": 0}  # fmt: skip
    assert checks["time_gaps"]["summary"]["hours"] == 6
    assert checks["completeness"]["summary"]["orphan_starts"] == 0
    assert checks["dead_letters"]["summary"]["dead_letters"] == 0
    assert checks["dead_letters"]["summary"]["loaded"] == loaded["clean"].known.events
    assert Path(report["data_docs"]).is_file()
    assert Path(report["summary_file"]).is_file()
    recorded = loaded["clean"].handle.scalar(
        "SELECT count() FROM quality_results WHERE run_id = %(r)s", {"r": report["run_id"]}
    )
    assert report["recorded"] and recorded == sum(len(c["expectations"]) for c in checks.values())


def test_problems_fail_with_their_locations(loaded, tmp_path, monkeypatch, capsys) -> None:
    data = loaded["problems"]
    known = data.known
    code, report, err = run_cli(data, tmp_path, monkeypatch, capsys)
    assert code == 5
    assert "error-level expectation(s) failed" in err and len(err.strip().splitlines()) == 1
    assert sorted(report["errors"]) == [
        "completeness: expect_column_values_to_be_between(missing_required)",
        "duplicates: expect_column_values_to_be_between(duplicate_ids)",
        "offset_gaps: expect_column_values_to_be_between(unexplained)",
        "time_gaps: expect_column_values_to_be_between(judged_events)",
    ]
    checks = report["checks"]

    # duplicates: the table, the id, both offsets
    dup = checks["duplicates"]
    assert dup["summary"] == {"duplicate_ids": 1, "extra_copies": 1,
                              "tables": ["events_element_click"]}  # fmt: skip
    (where,) = dup["where"]
    (sample,) = where["sample"]
    assert sample["event_id"] == known.duplicate_id
    assert sorted(c["offset"] for c in sample["copies"]) == known.duplicate_offsets
    assert sample["kind"] == "republished"

    # offset gap: exactly the lost offset
    gaps = checks["offset_gaps"]
    assert gaps["summary"]["missing"] == 1 and gaps["summary"]["unexplained"] == 1
    (where,) = gaps["where"]
    assert where["partition"] == 0
    assert where["missing_ranges"] == [[known.lost_offset, known.lost_offset]]

    # silent hour: 03:00 overall, and every judged type silent then
    gap = checks["time_gaps"]
    assert gap["summary"]["silent_hours"] == 1
    silent = [w for w in gap["where"] if w["problem"] == "silent"]
    assert {w["hour"] for w in silent} == {"2026-10-05T03:00:00Z"}
    assert {w["event_type"] for w in silent} == {
        "*", "element_click", "page_view_start", "page_view_end", "quality_change",
        "video_complete", "search_filter", "film_added"}  # fmt: skip
    failed = next(e for e in gap["expectations"] if "judged_events" in e["expectation"])
    assert failed["unexpected"] == 1
    assert failed["unexpected_rows"][0]["hour"] == "2026-10-05T03:00:00Z"

    # completeness: orphans both ways, the negative duration, the unknown quality
    comp = checks["completeness"]
    assert comp["status"] == "failed"
    assert comp["summary"] == {"missing_required": 1, "orphan_starts": 1, "orphan_ends": 1,
                               "negative_durations": 1, "absurd_durations": 0,
                               "unknown_qualities": 1}  # fmt: skip
    by_rule = {w["rule"]: w for w in comp["where"]}
    assert by_rule["missing_required"] == {"rule": "missing_required", "event_type": "element_click",
        "table": "events_element_click", "column": "page_type", "rows": 1}  # fmt: skip
    assert by_rule["orphan_starts"]["page_view_ids"] == [known.orphan_start]
    assert by_rule["orphan_starts"]["hour"] == "2026-10-05T01:00:00Z"
    assert by_rule["orphan_ends"]["page_view_ids"] == [known.orphan_end]
    assert by_rule["negative_durations"]["page_view_ids"] == [known.negative_view]
    assert by_rule["unknown_qualities"]["value"] == 999
    assert by_rule["unknown_qualities"]["video_ids"] == ["v0"]

    # dead letters: one, with its reason and position; under 1 % so a warning
    dead = checks["dead_letters"]
    assert dead["status"] == "warning"
    assert dead["summary"]["dead_letters"] == 1
    (reason,) = dead["where"]
    assert reason["reason"] == "bad_json"
    assert reason["first"] == [{"partition": 0, "offset": known.bad_offset, "event_type": ""}]


def test_one_suite_and_the_text_report(loaded, tmp_path, monkeypatch, capsys) -> None:
    data = loaded["problems"]
    monkeypatch.setenv("UGC_KAFKA_TOPIC", data.topic)
    with pytest.raises(SystemExit) as exit_info:
        main(["quality", "check", "--url", data.handle.url, "--since", SINCE, "--until", UNTIL,
              "--report-dir", str(tmp_path), "--suite", "completeness", "--no-docs"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert exit_info.value.code == 5  # the empty required field is an error
    assert "FAIL  completeness" in out and "orphan_starts=1" in out
    assert "error: expect_column_values_to_be_between(missing_required)" in out
    assert "duplicates" not in out
