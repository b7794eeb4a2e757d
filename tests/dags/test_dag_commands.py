"""Real ``dag.test()`` runs with a recording ``ugc`` stand-in: the commands each run renders,
the asset a load emits, and what an exit code does to the task.

The stand-in records its arguments and exits with the code the test asks for; the real CLI
runs in tests/dags/test_dag_e2e.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pendulum
import pytest

STUB = """\
#!{python}
import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(json.loads(os.environ.get("STUB_EXITS", "{{}}")).get(" ".join(sys.argv[1:3]), 0))
"""


class RecordingUgc:
    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = directory / "ugc"
        self.path.write_text(STUB.format(python=sys.executable))
        self.path.chmod(0o755)
        self.log = directory / "calls.jsonl"
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("AIRFLOW_VAR_UGC_BIN", str(self.path))
        monkeypatch.setenv("STUB_LOG", str(self.log))

    def exit_with(self, command: str, code: int) -> None:
        self.monkeypatch.setenv("STUB_EXITS", json.dumps({command: code}))

    @property
    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def ugc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path) -> RecordingUgc:
    return RecordingUgc(tmp_path, monkeypatch)


def states(run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}


def test_ingest_renders_the_window_and_emits_the_asset(fresh_dag, ugc: RecordingUgc) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    run = fresh_dag("ugc_ingest").test(logical_date=pendulum.datetime(2026, 11, 23, 10, 25))
    assert run.state == "success", states(run)
    window = ["--since", "2026-11-23T10:10:00+00:00", "--until", "2026-11-23T10:20:00+00:00"]
    assert ugc.calls == [
        ["etl", "run", *window, "--json"],
        ["quality", "check", *window, "--json"],
    ]
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id).all()
        assert [(e.asset.uri, e.source_task_id) for e in events] == [
            ("ugc://warehouse/events", "etl_run")
        ]


def test_a_failed_quality_check_fails_the_run_without_retries(fresh_dag, ugc: RecordingUgc) -> None:
    ugc.exit_with("quality check", 5)
    run = fresh_dag("ugc_ingest").test(logical_date=pendulum.datetime(2026, 11, 23, 11, 5))
    assert run.state == "failed"
    assert states(run) == {"etl_run": ("success", 1), "quality_check": ("failed", 1)}


def test_a_failed_load_stops_before_the_quality_check(fresh_dag, ugc: RecordingUgc) -> None:
    ugc.exit_with("etl run", 3)  # a configuration error: no retry can fix it
    run = fresh_dag("ugc_ingest").test(logical_date=pendulum.datetime(2026, 11, 23, 11, 15))
    assert run.state == "failed"
    assert states(run)["etl_run"] == ("failed", 1)
    assert [call[:2] for call in ugc.calls] == [["etl", "run"]]


@pytest.mark.parametrize(
    ("kwargs", "month", "window"),
    [
        # the monthly run on Dec 1st (02:00 UTC) builds and checks November
        (
            {
                "logical_date": pendulum.datetime(2026, 12, 1, 2),
                "run_after": pendulum.datetime(2026, 12, 1, 2),
            },
            "2026-11",
            ["--since", "2026-11-01T00:00:00+00:00", "--until", "2026-12-01T00:00:00+00:00"],
        ),
        # a run with no data interval (as an asset-triggered one): the month so far
        (
            {"logical_date": None, "run_after": pendulum.datetime(2026, 11, 23, 12)},
            "2026-11",
            ["--since", "2026-11-01T00:00:00+00:00"],
        ),
        # a manual run with the month param
        (
            {"logical_date": pendulum.datetime(2026, 12, 2, 3), "run_conf": {"month": "2026-09"}},
            "2026-09",
            ["--since", "2026-09-01T00:00:00+00:00", "--until", "2026-10-01T00:00:00+00:00"],
        ),
    ],
    ids=["monthly", "after-loads", "param"],
)
def test_marts_render_the_month(
    fresh_dag, ugc: RecordingUgc, kwargs: dict, month: str, window: list[str]
) -> None:
    run = fresh_dag("ugc_marts").test(**kwargs)
    assert run.state == "success", states(run)
    assert ugc.calls == [
        ["marts", "build", "--month", month, "--json"],
        ["quality", "check", *window, "--json"],
    ]


def test_a_month_that_is_not_yyyy_mm_is_refused(fresh_dag, ugc: RecordingUgc) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        fresh_dag("ugc_marts").test(
            logical_date=pendulum.datetime(2026, 12, 3, 3), run_conf={"month": "2026-13; rm -rf /"}
        )
    assert ugc.calls == []
