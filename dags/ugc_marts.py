"""ugc_marts: build the monthly marts, then check them.

    marts_build  ->  marts_check

Two kinds of run, one DAG (``AssetOrTimeSchedule``):

* **monthly**, at 02:00 UTC on the 1st (``CronDataIntervalTimetable("0 2 1 * *")``): the run
  on 2026-12-01 has ``data_interval_start`` 2026-11-01 and builds the finished month
  ``2026-11``. Two hours after midnight leave the last ingest windows of the month time to load.
* **after loads**: every successful ``ugc_ingest.etl_run`` updates the asset
  ``ugc://warehouse/events``; the asset-triggered run has no data interval and rebuilds the
  month it runs in (month to date), so analysts see fresh numbers through the month. Queued
  asset events collapse into one run, and ``max_active_runs=1`` keeps builds from overlapping.

A manual run builds the ``month`` param when given (``YYYY-MM``), else as above. Building a
month is idempotent (it replaces the month), so re-running any of these is safe.

``marts_check`` runs the data-quality check over the month the marts summarise (duplicates,
offset and time gaps, freshness at the month's end, completeness, dead letters): a failed
error-level check (exit 5) fails the run, so nobody reads a month's figures without knowing.
For the month still running the window ends now.

Commands, for the monthly run of 2026-12-01::

    ugc marts build --month 2026-11 --json
    ugc quality check --since 2026-11-01T00:00:00+00:00 --until 2026-12-01T00:00:00+00:00 --json

Exit codes and retries: see ``ugc_common``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pendulum
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, Param
from ugc_common import WAREHOUSE_EVENTS, retry_args, ugc_task

MARTS = "ugc://warehouse/marts"


def month_to_build(param: str | None, interval_start: datetime | None, run_after: datetime) -> str:
    """``YYYY-MM``: the param, else the data interval's month, else the month of the run."""
    if param:
        return param
    return (interval_start or run_after).strftime("%Y-%m")


def month_window(month: str, run_after: datetime) -> str:
    """``--since``/``--until`` for ``YYYY-MM``; no ``--until`` (now) if the run is in the month."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    flags = f"--since {start.isoformat()}"
    if end <= run_after:
        flags += f" --until {end.isoformat()}"
    return flags


# data_interval_start is missing (not None) from an asset-triggered run's context
MONTH_EXPR = "ugc_month(params.month, data_interval_start | default(none), dag_run.run_after)"
MONTH = "{{ " + MONTH_EXPR + " }}"

with DAG(
    dag_id="ugc_marts",
    description="Monthly marts for the finished month, refreshed month-to-date after loads",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 2 1 * *", timezone="UTC"),
        assets=Asset(WAREHOUSE_EVENTS),
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=retry_args(retries=2, first_delay=timedelta(minutes=1)),
    params={
        "month": Param(
            None,
            type=["null", "string"],
            pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
            description="Month to build, YYYY-MM; empty: the run's own month.",
        )
    },
    user_defined_macros={"ugc_month": month_to_build, "ugc_month_window": month_window},
    tags=["ugc", "marts"],
    doc_md=__doc__,
) as dag:
    marts_build = ugc_task(
        "marts_build",
        f"marts build --month {MONTH} --json",
        execution_timeout=timedelta(hours=1),
        outlets=[Asset(MARTS)],
        doc_md="Rebuild every mart for the month (idempotent: replaces the month).",
    )
    marts_check = ugc_task(
        "marts_check",
        "quality check {{ ugc_month_window(" + MONTH_EXPR + ", dag_run.run_after) }} --json",
        execution_timeout=timedelta(minutes=30),
        doc_md="The quality check over the month; a failed error-level check (exit 5) fails now.",
    )
    marts_build >> marts_check
