"""Unit tests of ugc.quality: windows, suites against the registry and the frames, the pure
parts of the checks, and the CLI's exit codes for bad input (no services)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ugc.errors import BadInput, ConfigError
from ugc.events import REGISTRY, EventType
from ugc.events.columns import table_columns
from ugc.events.registry import String
from ugc.quality.checks import CHECKS, duplicates, offsets, volume
from ugc.quality.suites import DEFAULT_DIR, load_suite, load_suites, problems
from ugc.quality.window import build_window, parse_moment

NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)


# ------------------------------------------------------------------ window
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23", "2026-11-23T00:00:00+00:00"),
        ("2026-11-23T18", "2026-11-23T18:00:00+00:00"),
        ("2026-11-23T18:05", "2026-11-23T18:05:00+00:00"),
        ("2026-11-23 18:05:07Z", "2026-11-23T18:05:07+00:00"),
        ("2026-11-23T21:05:07+03:00", "2026-11-23T18:05:07+00:00"),
        ("2026-11-23T18:05:07.250Z", "2026-11-23T18:05:07.250000+00:00"),
    ],
)
def test_moments_parse_to_utc(text: str, expected: str) -> None:
    assert parse_moment(text).isoformat() == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-13-01", "2026-11-31", "1700000000", "2026-11-23T25:00", ""]
)
def test_bad_moments_are_bad_input(text: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_moment(text, "--since")
    assert info.value.exit_code == 2
    assert info.value.one_line().startswith("--since:")


def test_window_defaults_and_order() -> None:
    window = build_window(None, None, now=NOW)
    assert (window.until - window.since).days == 7 and not window.explicit_until
    window = build_window("2026-11-01", "2026-11-02", now=NOW)
    assert window.as_dict() == {"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"}
    assert window.explicit_until
    with pytest.raises(BadInput, match="must be before"):
        build_window("2026-11-02", "2026-11-01", now=NOW)


# ------------------------------------------------------------------ suites
def test_every_suite_loads_and_names_only_frame_columns() -> None:
    suites = load_suites()
    assert set(suites) == set(CHECKS)
    for suite in suites.values():
        assert suite.check in CHECKS
        assert suite.version >= 1 and suite.expectations
        assert problems(suite, CHECKS[suite.check].COLUMNS) == []


def registry_problems(registry) -> list[str]:  # noqa: ANN001
    """What the completeness suite is missing or gets wrong about ``registry``."""
    suite = load_suites()["completeness"]
    found = []
    common = suite.param("common_not_empty")
    for event_type in registry:
        columns = {c.name for c in table_columns(event_type)}
        spec = suite.types.get(event_type.name)
        if spec is None:
            found.append(f"{event_type.name}: no expectations")
            continue
        named = [*common, *spec.get("not_empty", []), *spec.get("may_be_empty", [])]
        found += [f"{event_type.name}: no column {c}" for c in named if c not in columns]
        for field in event_type.fields:
            if (
                field.required
                and field.kind in ("string", "uuid", "enum")
                and field.name not in named
            ):
                found.append(f"{event_type.name}: required {field.name} not covered")
    for name in suite.types:
        if name not in registry:
            found.append(f"{name}: in the suite, not in the registry")
    for name, cols in suite.param("qualities").items():
        found += [f"{name}: no column {c}" for c in cols if c not in _columns(registry, name)]
    for name, limits in suite.param("max_values").items():
        found += [f"{name}: no column {c}" for c in limits if c not in _columns(registry, name)]
    views = suite.param("page_views")
    for key in ("start", "end"):
        if views["id"] not in _columns(registry, views[key]):
            found.append(f"{views[key]}: no column {views['id']}")
    return found


def _columns(registry, name: str) -> set[str]:  # noqa: ANN001
    return {c.name for c in table_columns(registry.get(name))} if name in registry else set()


def test_completeness_suite_covers_the_registry() -> None:
    assert registry_problems(REGISTRY) == []


def test_a_new_type_without_expectations_fails() -> None:
    registry = REGISTRY.copy()
    registry.register(EventType("share", "A film was shared.", (String("film_id"),)))
    assert registry_problems(registry) == ["share: no expectations"]


def test_a_suite_naming_a_missing_column_is_caught(tmp_path: Path) -> None:
    document = orjson.loads((DEFAULT_DIR / "duplicates.json").read_bytes())
    document["expectations"][0]["kwargs"]["column"] = "no_such_column"
    path = tmp_path / "duplicates.json"
    path.write_bytes(orjson.dumps(document))
    suite = load_suite(path)
    assert problems(suite, duplicates.COLUMNS) == [
        "duplicates: expect_column_values_to_be_between names column 'no_such_column', "
        "not in the frame"
    ]


def test_suite_errors_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError):
        load_suites(tmp_path)
    with pytest.raises(BadInput, match="unknown suite 'nope'"):
        load_suites(DEFAULT_DIR, ["nope"])


def test_levels_come_from_gx_severity() -> None:
    levels = {
        (suite.name, item.label()): item.level
        for suite in load_suites().values()
        for item in suite.expectations
    }
    assert levels[("duplicates", "expect_column_values_to_be_between(duplicate_ids)")] == "error"
    assert levels[("offset_gaps", "expect_column_values_to_be_between(unexplained)")] == "error"
    assert levels[("time_gaps", "expect_column_values_to_be_between(judged_events)")] == "error"
    assert levels[("dead_letters", "expect_column_values_to_be_between(rate)")] == "error"
    assert levels[("dead_letters", "expect_column_values_to_be_between(dead_letters)")] == "warning"
    assert levels[("offset_gaps", "expect_column_values_to_be_between(missing)")] == "info"


# ------------------------------------------------------------------ offsets (pure)
def test_ranges_merge_and_holes() -> None:
    assert offsets.merge([(5, 9), (0, 3), (4, 4), (20, 21)]) == [(0, 9), (20, 21)]
    assert offsets.holes([(0, 9), (20, 21), (30, 30)]) == [(10, 19), (22, 29)]
    assert offsets.missing_in([0, 1, 4, 5, 9], 0, 10) == [(2, 3), (6, 8), (10, 10)]
    assert offsets.missing_in([], 3, 5) == [(3, 5)]
    assert offsets.missing_in([3, 4, 5], 3, 5) == []


def test_signatures_settle_complete_buckets_only() -> None:
    size = offsets.BUCKET

    def seen(offsets_: list[int]) -> tuple[int, int, int]:
        return len(offsets_), sum(offsets_), sum(o * o for o in offsets_)

    full = list(range(size, 2 * size))
    assert seen(full) == offsets.signature(size, 2 * size - 1)
    lo, hi = 10, 3 * size + 4
    buckets = {
        0: seen(list(range(10, size))),  # partial (lo inside), complete
        1: seen(full),  # complete
        2: seen([*range(2 * size, 3 * size - 1), 2 * size]),  # one missing, one doubled
        3: seen(list(range(3 * size, 3 * size + 4))),  # one missing at the end (hi)
    }
    part = offsets.classify(lo, hi, buckets, beyond=2)
    assert part.found == 2 * size - 10
    assert part.unsure == [2, 3]
    assert part.gaps == [] and part.beyond == 2
    part = offsets.classify(lo, hi, {1: seen(full)})
    assert part.gaps == [(10, size - 1), (2 * size, 3 * size - 1), (3 * size, hi)]


def test_wrapped_sums_still_match() -> None:
    start = 2**40
    rows = list(range(start, start + 10))
    wrapped = (len(rows), sum(rows) % 2**64, sum(o * o for o in rows) % 2**64)
    assert wrapped == offsets.signature(start, start + 9)


# ------------------------------------------------------------------ time gaps (pure)
H = 3600


def test_judged_hours_are_complete_hours_between_first_and_last_event() -> None:
    since, until = 10 * H + 600, 20 * H + 60
    assert volume.judged_hours(since, until, [12 * H, 19 * H, 20 * H]) == list(
        range(12 * H, 20 * H, H)
    )
    assert volume.judged_hours(since, until, []) == []


def test_silent_and_low_hours_are_found_per_type_and_overall() -> None:
    hours = [h * H for h in range(6)]
    counts = {
        "a": {0: 40, H: 40, 2 * H: 40, 4 * H: 40, 5 * H: 40},  # hour 3 silent
        "b": {0: 30, H: 30, 2 * H: 3, 4 * H: 30, 5 * H: 30},  # hour 2 low, hour 3 silent
        "thin": {0: 1},  # too thin to judge
    }
    records, where = volume.assess(counts, hours, min_hourly=10, low_ratio=0.2)
    silent = records[3]
    assert silent["events"] == 0 and silent["judged_events"] == 0 and silent["silent_types"] == 2
    assert records[2]["low_types"] == 1 and records[2]["ratio"] == pytest.approx(43 / 70)
    assert {(w["event_type"], w["hour"], w["problem"]) for w in where} == {
        ("a", "1970-01-01T03:00:00Z", "silent"),
        ("b", "1970-01-01T03:00:00Z", "silent"),
        ("b", "1970-01-01T02:00:00Z", "low"),
        ("*", "1970-01-01T03:00:00Z", "silent"),
    }
    _, where = volume.assess({"thin": {0: 2}}, hours, min_hourly=10, low_ratio=0.2)
    assert where == []


# ------------------------------------------------------------------ duplicates (pure)
def test_duplicate_frame_and_locations() -> None:
    frame = duplicates.frame(
        [("like", 10, 9, 1, 1), ("element_click", 5, 5, 0, 0)],
        {"like": "events_like", "element_click": "events_element_click"},
    )
    assert list(frame.columns) == list(duplicates.COLUMNS)
    assert frame.to_dict("records")[1] == {
        "event_type": "like", "table": "events_like", "rows": 10, "ids": 9,
        "duplicate_ids": 1, "extra_copies": 1}  # fmt: skip
    located = duplicates.locate(
        "events_like",
        [("id-1", 0, 5, "r1"), ("id-1", 0, 5, "r2"), ("id-2", 0, 7, "r1"), ("id-2", 1, 3, "r1")],
    )
    assert [(e["event_id"], e["kind"]) for e in located] == [
        ("id-1", "reloaded"),
        ("id-2", "republished"),
    ]


# ------------------------------------------------------------------ CLI exit codes
def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from ugc.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code), capsys.readouterr().err


def test_bad_window_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(["quality", "check", "--since", "last tuesday"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: --since: 'last tuesday' is not a time")
    code, err = run_cli(
        ["quality", "check", "--since", "2026-11-02", "--until", "2026-11-01"], capsys
    )
    assert code == 2 and "must be before" in err


def test_unknown_suite_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"chdb://{tmp_path / 'never-opened'}"
    code, err = run_cli(["quality", "check", "--suite", "nope", "--url", url], capsys)
    assert code == 2 and "unknown suite 'nope'" in err
    assert not (tmp_path / "never-opened").exists()


def test_time_gaps_with_no_complete_hour_to_judge_is_not_an_error() -> None:
    # every event received within the current hour (a fresh load): nothing to judge yet
    records, where = volume.assess({"like": {1_800_000_000: 12}}, [], min_hourly=10, low_ratio=0.2)
    assert records == [] and where == []
