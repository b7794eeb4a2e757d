"""Known-answer marts on both backends: a dataset with counts worked out by hand, published to
the broker and loaded by the real ETL; ``ugc marts build`` / ``show`` must give exactly them.

The dataset also holds what marts must not count: a republished (duplicate) event, events of
September and November, page views without their end, a negative time on page and
``anonymous`` users.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from tests.integration.test_quality_dataset import Dataset, load_through_etl
from tests.support.warehouse import WarehouseHandle, make_chdb_warehouse, make_server_warehouse
from ugc.cli import main


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def build_dataset() -> Dataset:
    d = Dataset()
    anon = "anonymous"
    # vendors: a adds 3 films, b adds 2 films (one of them twice), c adds 1 (published twice)
    for film, vendor in (("f1", "a"), ("f2", "a"), ("f3", "a"), ("f4", "b"), ("f5", "b"),
                         ("f4", "b"), ("f6", "c")):  # fmt: skip
        d.add("film_added", _film(vendor, film), at=at(3, 9), user_id=anon)
    republished = d.records()[-1]
    d.add("film_added", _film("a", "f0"), at=at(30, 9, month=9), user_id=anon)  # September
    # October has 35 distinct events on 5 days (1, 2, 3, 10, 31); verified users per day:
    # 2, 2, 0, 1, 1 -> MAU 4 (user-1..4), average DAU 6 / 5
    # Oct 1: clicks by user-1, user-2 and an anonymous visitor
    d.add("element_click", _click("movie", "main"), at=at(1, 10), user_id="user-1")
    d.add("element_click", _click("movie", "main"), at=at(1, 11), user_id="user-2")
    d.add("element_click", _click("trailer", "movie"), at=at(1, 12), user_id=anon)
    d.add("element_click", _click("button", "main"), at=at(1, 13), user_id="user-1")
    # Oct 2: page views by user-1 (movie 60 s, 120 s, 300 s; main 30 s)
    for seconds, page in ((60, "movie"), (120, "movie"), (300, "movie"), (30, "main")):
        _page_view(d, page, at(2, 10), seconds, "user-1")
    _page_view(d, "movie", at(31, 23, 59), 120, "user-1")  # ends on Nov 1: still October's
    _page_view(d, "main", at(2, 11), -20, "user-1")  # negative: excluded, counted
    _page_view(d, "movie", at(2, 12), None, "user-1")  # never ended: no pair
    d.add("page_view_start", {"page_view_id": d.next_uuid(), "page_type": "unknown"},
          at=at(2, 13), user_id=anon, envelope="v2")  # fmt: skip
    # Oct 2: videos and quality switches by user-3 and anonymous viewers
    d.add("video_complete", _video("v1", True), at=at(2, 20), user_id="user-3")
    d.add("video_complete", _video("v1", True), at=at(2, 21), user_id="user-1")
    d.add("video_complete", _video("v1", False), at=at(2, 22), user_id=anon)
    d.add("video_complete", _video("v2", False), at=at(2, 22), user_id=anon)
    for old, new, video in ((720, 1080, "v1"), (1080, 480, "v1"), (480, 720, "v1"),
                            (720, 720, "v2")):  # fmt: skip
        d.add("quality_change", {"video_id": video, "old_quality": old, "new_quality": new},
              at=at(2, 20), user_id="user-3")  # fmt: skip
    # Oct 10: searches by user-4 and an anonymous visitor
    for filters, user in (("genre=drama;year=2020", "user-4"), ("genre=drama", "user-4"),
                          (" genre=comedy ; year=2020", anon)):  # fmt: skip
        d.add("search_filter", {"search_query": "q", "filters": filters}, at=at(10), user_id=user)
    # November: not October's
    d.add("element_click", _click("movie", "main"), at=at(2, month=11), user_id="user-9")
    d.add_record(republished)
    return d


def _film(vendor: str, film: str) -> dict[str, Any]:
    return {"vendor_id": f"vendor-{vendor}", "film_id": film, "title": film, "genres": ["drama"]}


def _click(element: str, page: str) -> dict[str, Any]:
    return {"element_type": element, "page_type": page}


def _video(video: str, full: bool) -> dict[str, Any]:
    return {"video_id": video, "duration_total": full, "duration_s": 5400}


def _page_view(d: Dataset, page: str, start: datetime, seconds: int | None, user: str) -> None:
    view = d.next_uuid()
    d.add("page_view_start", {"page_view_id": view, "page_type": page}, at=start, user_id=user)
    if seconds is not None:
        d.add("page_view_end", {"page_view_id": view, "page_type": page},
              at=start + timedelta(seconds=seconds), user_id=user)  # fmt: skip


def expected_daily(d: Dataset) -> list[dict[str, Any]]:
    """Per day and type (and '*'), from the records themselves: deduplicated, October only."""
    seen, events, users = set(), defaultdict(int), defaultdict(set)
    for record in d.records():
        if record["event_id"] in seen or not record["event_at"].startswith("2026-10"):
            continue
        seen.add(record["event_id"])
        day = record["event_at"][:10]
        for key in ((day, record["event_type"]), (day, "*")):
            events[key] += 1
            if record["user_id"] != "anonymous":
                users[key].add(record["user_id"])
    return [
        {
            "day": day,
            "event_type": kind,
            "events": events[(day, kind)],
            "users": len(users[(day, kind)]),
        }  # fmt: skip
        for day, kind in sorted(events)
    ]


@pytest.fixture(scope="module", params=["server", "chdb"])
def loaded(
    request: pytest.FixtureRequest, kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[WarehouseHandle, Dataset]:
    tmp = tmp_path_factory.mktemp(f"marts-{request.param}")
    if request.param == "server":
        handle = make_server_warehouse(request.getfixturevalue("clickhouse_server").url)
    else:
        handle = make_chdb_warehouse(tmp / "warehouse")
    data = build_dataset()
    load_through_etl(data, bootstrap=kafka_broker.bootstrap, topic=f"m.{uuid.uuid4().hex[:10]}",
                     warehouse_url=handle.url, data_dir=str(tmp))  # fmt: skip
    return handle, data


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code), out, err


def show(capsys: Any, url: str, month: str = "2026-10", *extra: str) -> dict[str, Any]:
    code, out, err = cli(capsys, "marts", "show", "--month", month, "--url", url, "--json", *extra)
    assert code == 0, err
    return orjson.loads(out)


def test_marts_equal_the_known_answers(loaded, capsys, monkeypatch) -> None:
    monkeypatch.setenv("UGC_LOG_LEVEL", "warning")
    handle, data = loaded
    code, out, err = cli(capsys, "marts", "build", "--month", "2026-10", "--url", handle.url,
                         "--json")  # fmt: skip
    assert code == 0, err
    built = orjson.loads(out)
    assert built["source_events"] == 35
    marts = show(capsys, handle.url)["marts"]

    assert marts["vendor_films"] == [
        {"vendor_id": "vendor-a", "films": 3, "additions": 3},
        {"vendor_id": "vendor-b", "films": 2, "additions": 3},
        {"vendor_id": "vendor-c", "films": 1, "additions": 1},
    ]
    assert marts["active_users"] == [
        {"mau": 4, "avg_dau": 1.2, "peak_dau": 2, "active_days": 5, "events": 35}
    ]
    assert marts["daily"] == expected_daily(data)
    assert marts["time_on_page"] == [
        {"page_type": "movie", "views": 4, "total_s": 600, "avg_s": 150.0, "median_s": 120.0,
         "p90_s": 300.0, "excluded": 0},
        {"page_type": "main", "views": 1, "total_s": 30, "avg_s": 30.0, "median_s": 30.0,
         "p90_s": 30.0, "excluded": 1},
    ]  # fmt: skip
    assert marts["video_completions"] == [
        {"video_id": "v1", "completions": 3, "full_watches": 2, "viewers": 2},
        {"video_id": "v2", "completions": 1, "full_watches": 0, "viewers": 0},
    ]
    assert marts["quality_switches"] == [
        {"video_id": "v1", "switches_up": 2, "switches_down": 1, "switches": 3},
        {"video_id": "v2", "switches_up": 0, "switches_down": 0, "switches": 1},
    ]
    assert marts["search_filters"] == [
        {"filter": "genre=drama", "uses": 2, "users": 1},
        {"filter": "year=2020", "uses": 2, "users": 1},
        {"filter": "genre=comedy", "uses": 1, "users": 0},
    ]
    assert marts["clicks"] == [
        {"element_type": "movie", "page_type": "main", "clicks": 2, "users": 2},
        {"element_type": "button", "page_type": "main", "clicks": 1, "users": 1},
        {"element_type": "trailer", "page_type": "movie", "clicks": 1, "users": 0},
    ]


def test_rebuild_replaces_the_month_only(loaded, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("UGC_LOG_LEVEL", "warning")
    handle, _ = loaded
    for month in ("2026-10", "2026-11", "2026-10"):
        code, _, err = cli(capsys, "marts", "build", "--month", month, "--url", handle.url)
        assert code == 0, err
    october = show(capsys, handle.url)["marts"]
    november = show(capsys, handle.url, "2026-11")["marts"]
    assert october["vendor_films"][0] == {"vendor_id": "vendor-a", "films": 3, "additions": 3}
    assert november["active_users"][0]["mau"] == 2  # user-9, and user-1 leaving a page
    assert november["clicks"] == [
        {"element_type": "movie", "page_type": "main", "clicks": 1, "users": 1}
    ]
    rows = handle.scalar("SELECT count() FROM mart_vendor_films WHERE month = '2026-10-01'")
    assert rows == 3  # not doubled by the rebuild
    page = tmp_path / "marts.html"
    code, out, err = cli(capsys, "marts", "show", "--month", "2026-10", "--url", handle.url,
                         "--html", str(page))  # fmt: skip
    assert code == 0, err
    html = page.read_text()
    assert "<svg" in html and "vendor-a" in html and "http" not in html
    assert "vendor_films (3 rows)" in out


def test_month_validation_and_unbuilt_month(loaded, capsys) -> None:
    handle, _ = loaded
    for bad in ("2026-13", "2026-1", "26-10", "2026-10-01", "october"):
        code, out, err = cli(capsys, "marts", "build", "--month", bad, "--url", handle.url)
        assert code == 2 and err.startswith("error: --month") and len(err.splitlines()) == 1
    code, _, err = cli(capsys, "marts", "show", "--month", "2025-01", "--url", handle.url)
    assert code == 2 and "not built" in err
