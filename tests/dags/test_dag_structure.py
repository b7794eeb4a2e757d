"""The DAGs parse, have the shape we promise, and keep heavy imports out of parse time.

No metadata database is needed here: ``dagbag.dags[...]`` (``get_dag`` would query the DB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pendulum
import pytest

from tests.dags.conftest import DAGS, REPO, VENV_BIN

HEAVY = ("ugc", "great_expectations", "confluent_kafka", "pandas", "chdb", "clickhouse_driver")


def core_timetable(dag):
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(dag.timetable)


def test_dagbag_imports_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dags) == ["ugc_ingest", "ugc_marts"]


def test_parsing_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from airflow.dag_processing.dagbag import BundleDagBag\n"
        f"bag = BundleDagBag(dag_folder=Path({str(DAGS)!r}), bundle_path=Path({str(DAGS)!r}))\n"
        "assert not bag.import_errors, bag.import_errors\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_dags_pass_the_airflow3_lint() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "ruff"), "check", "--select", "AIR3", "--no-cache", str(DAGS)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("dag_id", ["ugc_ingest", "ugc_marts"])
def test_common_run_settings(dagbag, dag_id: str) -> None:
    from ugc_common import UgcExitCodePolicy

    dag = dagbag.dags[dag_id]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.bash_command.startswith("{{ var.value.get('ugc_bin', 'ugc') }} ")
        assert task.bash_command.endswith(" --json")
        assert task.skip_on_exit_code == []  # no exit code means "skipped"
        assert task.append_env is True
        assert task.retries >= 2
        assert task.retry_exponential_backoff == 2.0
        assert task.max_retry_delay == timedelta(minutes=10)
        assert task.execution_timeout is not None
        assert isinstance(task.retry_policy, UgcExitCodePolicy)


def test_ingest_shape(dagbag) -> None:
    dag = dagbag.dags["ugc_ingest"]
    assert [t.task_id for t in dag.topological_sort()] == ["etl_run", "quality_check"]
    etl, quality = dag.get_task("etl_run"), dag.get_task("quality_check")
    assert quality.upstream_task_ids == {"etl_run"}
    assert etl.retries == 3
    assert " etl run --since " in etl.bash_command
    assert "--since {{ data_interval_start | ts }} --until {{ data_interval_end | ts }}" in (
        etl.bash_command
    )
    assert " quality check --since {{ data_interval_start | ts }}" in quality.bash_command
    assert [a.uri for a in etl.outlets] == ["ugc://warehouse/events"]
    assert quality.outlets == []


def test_ingest_windows_are_ten_real_minutes(dagbag) -> None:
    timetable = core_timetable(dagbag.dags["ugc_ingest"])
    interval = timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2026, 11, 23, 10, 25, tz="UTC")
    )
    assert (interval.start, interval.end) == (
        datetime(2026, 11, 23, 10, 10, tzinfo=UTC),
        datetime(2026, 11, 23, 10, 20, tzinfo=UTC),
    )
    from airflow.timetables.base import TimeRestriction

    first = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(
            earliest=pendulum.datetime(2026, 11, 1, tz="UTC"), latest=None, catchup=True
        ),
    )
    assert first.data_interval.end - first.data_interval.start == timedelta(minutes=10)
    assert first.run_after == first.data_interval.end


def test_marts_shape(dagbag) -> None:
    dag = dagbag.dags["ugc_marts"]
    assert [t.task_id for t in dag.topological_sort()] == ["marts_build", "marts_check"]
    build = dag.get_task("marts_build")
    assert " marts build --month {{ ugc_month(" in build.bash_command
    assert [a.uri for a in build.outlets] == ["ugc://warehouse/marts"]


def test_marts_run_monthly_for_the_finished_month_and_after_loads(dagbag) -> None:
    from airflow.timetables.assets import AssetOrTimeSchedule

    timetable = core_timetable(dagbag.dags["ugc_marts"])
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert timetable.summary == "Asset or 0 2 1 * *"
    assert "ugc://warehouse/events" in json.dumps(timetable.serialize())
    interval = timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2026, 12, 1, 3, tz="UTC")
    )
    assert interval.start == datetime(2026, 11, 1, 2, tzinfo=UTC)
    assert interval.end == datetime(2026, 12, 1, 2, tzinfo=UTC)


def test_month_to_build() -> None:
    from ugc_marts import month_to_build

    run_after = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert month_to_build("2026-09", None, run_after) == "2026-09"
    assert month_to_build(None, datetime(2026, 10, 1, 2, tzinfo=UTC), run_after) == "2026-10"
    assert month_to_build(None, None, run_after) == "2026-11"  # asset-triggered: month to date


def test_month_window() -> None:
    from ugc_marts import month_window

    assert month_window("2026-12", datetime(2027, 1, 1, 2, tzinfo=UTC)) == (
        "--since 2026-12-01T00:00:00+00:00 --until 2027-01-01T00:00:00+00:00"
    )
    assert month_window("2026-12", datetime(2026, 12, 31, 23, tzinfo=UTC)) == (
        "--since 2026-12-01T00:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("code", "action"),
    [(1, "default"), (2, "fail"), (3, "fail"), (4, "default"), (5, "fail"), (6, "default")]
    + [(7, "fail"), (None, "default")],
)
def test_exit_codes_decide_retries(code: int | None, action: str) -> None:
    from airflow.sdk.exceptions import AirflowException
    from ugc_common import UgcExitCodePolicy

    message = (
        f"Bash command failed. The command returned a non-zero exit code {code}."
        if code is not None
        else "Timeout, PID: 1234"
    )
    decision = UgcExitCodePolicy().evaluate(AirflowException(message), 1, 4)
    assert decision.action.value == action
