"""``ugc etl``: load the topic into the warehouse, and show how far it got.

Exit codes (shared with every ugc command, see ``ugc.errors``)::

    0  done (also when there was nothing to load; dead letters are data, not failures)
    1  unexpected failure, or the warehouse refused a statement
    2  bad command-line input
    3  configuration problem (bad setting, topic missing, warehouse not migrated)
    4  Kafka or ClickHouse unavailable: retry later; the ledger only holds what was written
    6  busy: another ETL run holds the lock, or another process owns the chdb directory
    7  integrity: the broker's offsets went backwards; see docs/etl.md before re-running

Never 99 (Airflow's BashOperator reads it as "skipped").
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click
import orjson

from ugc.cli import State


class Timestamp(click.ParamType):
    name = "TIMESTAMP"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        from ugc.events import parse_ts

        try:
            return parse_ts(str(value).replace(" ", "T", 1))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-23T18:00:00Z)", param, ctx)


def _settings(state: State, bootstrap: str | None, topic: str | None, url: str | None) -> Any:
    overrides = {"kafka_bootstrap": bootstrap, "kafka_topic": topic, "clickhouse_url": url}
    return state.settings(**{k: v for k, v in overrides.items() if v})


_common = [
    click.option(
        "--bootstrap", default=None, help="Kafka bootstrap (default UGC_KAFKA_BOOTSTRAP)."
    ),
    click.option("--topic", default=None, help="Topic (default UGC_KAFKA_TOPIC)."),
    click.option("--url", default=None, help="Warehouse URL (default UGC_CLICKHOUSE_URL)."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
]


def common(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@click.group()
def etl() -> None:
    """Load events from Kafka into ClickHouse (docs/etl.md).

    \b
    Exit codes: 0 done (dead letters are data, not failures); 1 unexpected failure;
    2 bad input; 3 configuration (topic missing, warehouse not migrated); 4 Kafka or
    ClickHouse unavailable, retry; 6 busy (another run, or the chdb directory is in use);
    7 offsets went backwards (see docs/etl.md). Never 99.
    """


@etl.command("run")
@click.option(
    "--since", type=Timestamp(), help="Start where the ledger has no position (or --replay)."
)
@click.option(
    "--until",
    type=Timestamp(),
    help="Stop each partition at the first message at or after this time.",
)
@click.option(
    "--replay", is_flag=True, help="Re-read every partition from --since, ignoring the ledger."
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Messages per batch (default UGC_ETL_BATCH_SIZE).",
)
@click.option(
    "--max-events", type=click.IntRange(min=1), default=None, help="Stop after this many messages."
)
@click.option(
    "--dry-run", is_flag=True, help="Read, validate and count; write nothing, commit nothing."
)
@common
@click.pass_obj
def run_cmd(state: State, bootstrap: str | None, topic: str | None, url: str | None, as_json: bool, **flags: Any) -> None:  # fmt: skip
    """Drain the topic up to its end at start (or --until) into the warehouse.

    Each partition resumes from its ledger position. Safe to re-run and to kill: every
    message ends up once in its table or in dead_letters, as the v_* views show.
    """
    from ugc.etl import RunOptions, run_etl

    settings = _settings(state, bootstrap, topic, url)
    options = RunOptions(
        since=flags["since"],
        until=flags["until"],
        replay=flags["replay"],
        batch_size=flags["batch_size"] or settings.etl_batch_size,
        max_events=flags["max_events"],
        dry_run=flags["dry_run"],
    )
    if options.replay and options.since is None:
        raise click.UsageError("--replay needs --since (from when to re-read)")
    bar = _ProgressBar(enabled=sys.stderr.isatty() and not as_json)
    try:
        summary = run_etl(settings, options, progress=bar.update, on_plan=bar.start)
    finally:
        bar.close()
    if as_json:
        click.echo(orjson.dumps(summary.to_dict()))
    else:
        click.echo(summary.one_line())


@etl.command("status")
@common
@click.pass_obj
def status_cmd(state: State, bootstrap: str | None, topic: str | None, url: str | None, as_json: bool) -> None:  # fmt: skip
    """Per partition: ledger position, high watermark, lag, and the last run."""
    from ugc.etl import etl_status

    report = etl_status(_settings(state, bootstrap, topic, url))
    if as_json:
        click.echo(orjson.dumps(report))
        return
    click.echo(f"topic {report['topic']} -> {report['warehouse']} (group {report['group']})")
    click.echo(f"  {'partition':>9} {'position':>12} {'high':>12} {'lag':>10}  last loaded")
    for row in report["partitions"]:
        click.echo(
            f"  {row['partition']:>9} {_n(row['ledger_position']):>12} "
            f"{_n(row['high_watermark']):>12} {_n(row['lag']):>10}  {row['last_loaded_at'] or '-'}"
            + (f"  ! {row['problem']}" if row["problem"] else "")
        )
    run = report["last_run"]
    if run:
        click.echo(
            f"  last run {run['run_id']}: {run['status']}, loaded {run['rows_loaded']}, "
            f"dead-lettered {run['rows_dead_lettered']}, started {run['started_at']}"
            + (f" ({run['message']})" if run["message"] else "")
        )
    click.echo(f"  total lag {report['lag']}")


def _n(value: Any) -> str:
    return "-" if value is None else str(value)


class _ProgressBar:
    """click.progressbar on a terminal (stderr), nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def start(self, plans: list[Any]) -> None:
        if self.enabled:
            total = sum(p.pending for p in plans)
            self._bar = click.progressbar(length=max(total, 1), label="loading", file=sys.stderr)
            self._bar.__enter__()

    def update(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
