"""Great Expectations on small pandas frames: the real suites, verdicts with their levels and
the rows that failed, and Data Docs written where asked (GX is imported once, here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ugc.quality import validate
from ugc.quality.checks import CHECKS
from ugc.quality.suites import load_suites


def frames(problems: bool) -> dict[str, pd.DataFrame]:
    bad = 1 if problems else 0
    return {
        "duplicates": pd.DataFrame(
            {
                "event_type": ["like", "element_click"],
                "table": ["events_like", "events_element_click"],
                "rows": [10, 20],
                "ids": [10 - bad, 20],
                "duplicate_ids": [bad, 0],
                "extra_copies": [bad, 0],
            }  # fmt: skip
        ),
        "offset_gaps": pd.DataFrame(
            {
                "partition": [0, 1],
                "first_offset": [0, 0],
                "last_offset": [99, 99],
                "expected": [100, 100],
                "accounted": [100 - bad, 100],
                "missing": [bad, 0],
                "ledger_skipped": [0, 0],
                "unexplained": [bad, 0],
                "gap_ranges": [bad, 0],
                "ledger_holes": [0, 0],
                "beyond_ledger": [0, 0],
            }  # fmt: skip
        ),
        "time_gaps": pd.DataFrame(
            {
                "hour": ["2026-10-05T00:00:00Z", "2026-10-05T01:00:00Z"],
                "events": [50, 50 - 50 * bad],
                "judged_events": [50.0, 50.0 - 50 * bad],
                "usual": [50.0, 50.0],
                "ratio": [1.0, 1.0 - bad],
                "silent_types": [0, 3 * bad],
                "low_types": [0, 0],
            }  # fmt: skip
        ),
        "freshness": pd.DataFrame(
            {
                "newest_event_at": ["2026-10-05T05:00:00Z"],
                "newest_loaded_at": [None],
                "reference": ["2026-10-05T06:00:00Z"],
                "age_s": [3600.0 + 10000 * bad],
                "load_age_s": [None],
            }  # fmt: skip
        ),
        "completeness": pd.DataFrame(
            {
                "event_type": ["page_view_start", "like"],
                "rows": [10, 5],
                "missing_required": [0, 0],
                "orphan_starts": [float(bad), None],
                "orphan_ends": [None, None],
                "negative_durations": [0.0, None],
                "absurd_durations": [0.0, None],
                "unknown_qualities": [None, None],
            }  # fmt: skip
        ),
        "dead_letters": pd.DataFrame(
            {"dead_letters": [bad], "loaded": [1000], "rate": [bad / 1001]}
        ),
    }


@pytest.fixture(scope="module")
def suites():  # noqa: ANN201
    return load_suites()


def test_frames_here_match_the_checks() -> None:
    for name, frame in frames(False).items():
        assert list(frame.columns) == list(CHECKS[name].COLUMNS)


def test_clean_frames_pass_and_docs_are_written(suites, tmp_path: Path) -> None:  # noqa: ANN001
    outcomes = validate.validate(frames(False), suites, tmp_path / "docs")
    failed = [(n, o.expectation) for n, items in outcomes.items() for o in items if not o.success]
    assert failed == []
    index = tmp_path / "docs" / "index.html"
    assert index.is_file()
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == len(suites)


def test_problem_frames_fail_with_levels_and_rows(suites) -> None:  # noqa: ANN001
    outcomes = validate.validate(frames(True), suites, None)
    failed = {
        (name, o.expectation): o for name, items in outcomes.items() for o in items if not o.success
    }
    levels = {key: o.level for key, o in failed.items()}
    assert levels == {
        ("duplicates", "expect_column_values_to_be_between(duplicate_ids)"): "error",
        ("offset_gaps", "expect_column_values_to_be_between(unexplained)"): "error",
        ("offset_gaps", "expect_column_values_to_be_between(missing)"): "info",
        ("time_gaps", "expect_column_values_to_be_between(judged_events)"): "error",
        ("time_gaps", "expect_column_values_to_be_between(ratio)"): "warning",
        ("time_gaps", "expect_column_values_to_be_between(silent_types)"): "warning",
        ("freshness", "expect_column_values_to_be_between(age_s)"): "warning",
        ("completeness", "expect_column_values_to_be_between(orphan_starts)"): "warning",
        ("dead_letters", "expect_column_values_to_be_between(dead_letters)"): "warning",
    }
    dup = failed[("duplicates", "expect_column_values_to_be_between(duplicate_ids)")]
    assert dup.unexpected == 1
    assert dup.unexpected_rows == [{"duplicate_ids": 1, "table": "events_like"}]
    silent = failed[("time_gaps", "expect_column_values_to_be_between(judged_events)")]
    assert silent.unexpected_rows == [{"judged_events": 0.0, "hour": "2026-10-05T01:00:00Z"}]


def test_the_lighter_gx_import_leaves_scipy_and_sqlalchemy_usable() -> None:
    # a fresh interpreter: this session may have imported GX already
    code = (
        "import sys\n"
        "from ugc.quality import validate\n"
        "gx = validate._import_gx()\n"
        "assert gx.ExpectationSuite\n"
        "assert 'sqlalchemy' not in sys.modules or sys.modules['sqlalchemy'] is not None\n"
        "import scipy.stats\n"
        "assert abs(scipy.stats.norm.cdf(0) - 0.5) < 1e-12\n"
        "try:\n"
        "    import sqlalchemy\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    assert sqlalchemy.__version__\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
