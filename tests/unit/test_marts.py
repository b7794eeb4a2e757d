"""Unit tests of ugc.marts: --month parsing, definitions against the migration, the HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ugc.errors import BadInput
from ugc.events import REGISTRY
from ugc.marts.definitions import BUILDS_TABLE, DEDUP_WINDOWS, MARTS, dups_sql, dups_table
from ugc.marts.html import bar_chart, column_chart, render
from ugc.marts.month import Month

MIGRATIONS = Path(__file__).resolve().parents[2] / "clickhouse" / "migrations"
MART_MIGRATIONS = ("101_marts.sql", "102_mart_daily_users.sql")


def test_month_parses_strictly() -> None:
    month = Month.parse("2026-11")
    assert str(month) == "2026-11" and month.partition == 202611 and month.days == 30
    assert month.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert Month.parse("2026-12").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert Month.parse("2028-02").days == 29
    assert Month.parse("2026-10").params() == {
        "month": "2026-10-01",
        "start": 1790812800,
        "end": 1793491200,
        "end_plus_day": 1793577600,
    }


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "2026/11", "nov", "", "1969-12"]
)
def test_bad_months_are_bad_input(text: str) -> None:
    with pytest.raises(BadInput) as info:
        Month.parse(text)
    assert info.value.exit_code == 2 and info.value.one_line().startswith("--month:")


def _ddl_columns() -> dict[str, list[str]]:
    tables = {}
    for text in _ddl():
        for name, body in re.findall(
            r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*?)\)\s*ENGINE", text, re.S
        ):
            tables[name] = [line.split()[0] for line in body.strip().splitlines() if line.strip()]
    return tables


def _ddl() -> list[str]:
    return [(MIGRATIONS / name).read_text() for name in MART_MIGRATIONS]


def test_definitions_match_the_migration() -> None:
    ddl = _ddl_columns()
    assert set(ddl) == {m.table for m in MARTS} | {BUILDS_TABLE}
    for mart in MARTS:
        assert list(mart.columns) == ddl[mart.table], mart.name
        assert mart.columns[0] == "month"
    for text in _ddl():
        assert text.count("PARTITION BY toYYYYMM(month)") == text.count("CREATE TABLE")


def test_marts_read_events_only_deduplicated_by_month() -> None:
    tables = {t.table for t in REGISTRY}
    for mart in MARTS:
        sources = set(re.findall(r"FROM (\w+)", mart.select))
        assert sources <= tables | {"mart_daily", "mart_daily_users"}, sources
        # each deduplicated read: the rows whose id hash is unique, and the others
        # through LIMIT 1 BY event_id (see ``deduped``)
        reads = mart.select.count("FROM events_")
        assert reads == 2 * mart.select.count("LIMIT 1 BY event_id))"), mart.name
        assert reads == mart.select.count(f"IN {DUPS_PREFIX}"), mart.name
        assert "v_events_" not in mart.select


DUPS_PREFIX = dups_table("")


SAMPLE = {
    "month": "2026-10",
    "build": {
        "build_id": "m-1",
        "built_at": "2026-11-01T00:00:00Z",
        "source_events": 35,
        "seconds": 0.4,
    },  # fmt: skip
    "marts": {
        "vendor_films": [{"vendor_id": "<vendor & co>", "films": 3, "additions": 4}],
        "daily": [
            {"day": "2026-10-01", "event_type": "*", "events": 7, "users": 2},
            {"day": "2026-10-02", "event_type": "*", "events": 3, "users": 1},
        ],  # fmt: skip
        "active_users": [{"mau": 4, "avg_dau": 1.5, "peak_dau": 2, "active_days": 2, "events": 10}],
        "time_on_page": [
            {
                "page_type": "movie",
                "views": 4,
                "total_s": 600,
                "avg_s": 150.0,
                "median_s": 120.0,
                "p90_s": 300.0,
                "excluded": 0,
            }
        ],  # fmt: skip
        "video_completions": [],
        "quality_switches": [],
        "search_filters": [{"filter": "genre=drama", "uses": 2, "users": 1}],
        "clicks": [{"element_type": "movie", "page_type": "main", "clicks": 2, "users": 2}],
    },
}


def test_html_is_self_contained_with_charts() -> None:
    page = render(SAMPLE)
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 5
    assert "&lt;vendor &amp; co&gt;" in page and "<vendor" not in page
    assert not re.search(r"(src|href)=", page) and "http" not in page
    assert "no data" in page  # empty marts say so


def test_charts_scale_to_the_peak() -> None:
    svg = column_chart(["01", "02"], [10, 5], "events")
    heights = [int(h) for h in re.findall(r"height='(\d+)'><title>", svg)]
    assert heights == [180, 90]
    svg = bar_chart(["a", "b"], [4, 1])
    widths = [int(w) for w in re.findall(r"width='(\d+)' height='18'", svg)]
    assert widths == [420, 105]
    assert column_chart([], [], "events") == "<p class='muted'>no data</p>"


def test_bad_month_on_the_cli_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from ugc.cli import main

    url = f"chdb://{tmp_path / 'never-opened'}"
    for command in ("build", "show"):
        with pytest.raises(SystemExit) as info:
            main(["marts", command, "--month", "2026-13", "--url", url])
        err = capsys.readouterr().err
        assert (
            info.value.code == 2
            and err == "error: --month: '2026-13' has no month 13; use 01 to 12\n"
        )
    assert not (tmp_path / "never-opened").exists()


def test_every_table_a_mart_reads_has_its_duplicate_set() -> None:
    read = {name for mart in MARTS for name in re.findall(r"FROM events_(\w+) WHERE", mart.select)}
    assert read <= set(DEDUP_WINDOWS), read - set(DEDUP_WINDOWS)
    for name in DEDUP_WINDOWS:
        create, fill = dups_sql(name)
        assert dups_table(name) in create and dups_table(name) in fill
        assert "HAVING count() > 1" in fill
