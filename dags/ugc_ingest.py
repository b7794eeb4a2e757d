"""ugc_ingest: every 10 minutes, drain Kafka into ClickHouse, then check what landed.

    etl_run  ->  quality_check

Each run owns a real 10-minute window (``CronDataIntervalTimetable``, UTC): the run that starts
at 10:20 has ``data_interval_start`` 10:10 and ``data_interval_end`` 10:20, and its commands are

    ugc etl run --since 2026-11-23T10:10:00+00:00 --until 2026-11-23T10:20:00+00:00 --json
    ugc quality check --since 2026-11-23T10:10:00+00:00 --until 2026-11-23T10:20:00+00:00 --json

The ETL resumes every partition from its load ledger, so a skipped or failed window loses
nothing: the next run reads from where the last successful one stopped (``--since`` only
matters for a partition that has never been loaded). Hence ``catchup=False`` and
``max_active_runs=1`` (two drains of the same partitions never overlap).

A successful ``etl_run`` updates the asset ``ugc://warehouse/events``, which schedules the
marts DAG. Exit codes and retries: see ``ugc_common``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable
from ugc_common import WAREHOUSE_EVENTS, retry_args, ugc_task

WINDOW = "--since {{ data_interval_start | ts }} --until {{ data_interval_end | ts }}"

with DAG(
    dag_id="ugc_ingest",
    description="Kafka -> ClickHouse every 10 minutes, then the data-quality check",
    schedule=CronDataIntervalTimetable("*/10 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=retry_args(retries=3, first_delay=timedelta(seconds=30)),
    tags=["ugc", "etl", "quality"],
    doc_md=__doc__,
) as dag:
    etl_run = ugc_task(
        "etl_run",
        f"etl run {WINDOW} --json",
        execution_timeout=timedelta(minutes=30),
        outlets=[Asset(WAREHOUSE_EVENTS)],
        doc_md="Drain the topic into ClickHouse up to the window's end; exit 4 retries.",
    )
    quality_check = ugc_task(
        "quality_check",
        f"quality check {WINDOW} --json",
        execution_timeout=timedelta(minutes=15),
        doc_md="Gaps, duplicates, freshness for the window; exit 5 (a failed check) fails now.",
    )
    etl_run >> quality_check
