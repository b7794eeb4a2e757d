"""``ugc quality check``: data-quality checks on the warehouse, validated by Great Expectations.

Exit codes: 0 every error-level expectation passed (warnings may have failed), 5 one failed
(``QualityFailed``), 2 bad flags, 3 a broken suite or setting, 4 the warehouse is down or
refused a query, 6 the embedded warehouse is owned by another process.
"""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from ugc.cli import State
from ugc.errors import QualityFailed

_MARK = {"passed": "ok  ", "warning": "warn", "failed": "FAIL"}


@click.group()
def quality() -> None:
    """Data-quality checks: duplicates, offset and time gaps, freshness, completeness."""


@quality.command("check")
@click.option(
    "--since",
    default=None,
    help="Start of the window (ISO 8601, UTC if no offset). Default: 7 days before --until.",
)
@click.option("--until", default=None, help="End of the window, exclusive. Default: now.")
@click.option(
    "--suite",
    "suites",
    multiple=True,
    metavar="NAME",
    help="Run only this suite (repeatable): duplicates, offset_gaps, time_gaps, freshness, completeness, dead_letters.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where summary.json and the Data Docs go. Default: DATA_DIR/quality.",
)
@click.option(
    "--expectations-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    hidden=True,
)
@click.option("--no-docs", is_flag=True, help="Skip building the Data Docs (HTML).")
@click.option("--url", default=None, help="Warehouse URL (default: UGC_CLICKHOUSE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON summary instead of a table.")
@click.pass_obj
def check(
    state: State,
    since: str | None,
    until: str | None,
    suites: tuple[str, ...],
    report_dir: Path | None,
    expectations_dir: Path | None,
    no_docs: bool,
    url: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Check the warehouse: exit 0 when every error-level check passes, 5 when one fails."""
    from ugc.quality.runner import run_check
    from ugc.quality.window import build_window

    window = build_window(since, until)
    settings = state.settings(clickhouse_url=url) if url else state.settings()
    report = run_check(
        settings,
        window=window,
        suites=suites,
        report_dir=report_dir,
        expectations_dir=expectations_dir,
        docs=not no_docs,
    )
    if as_json:
        click.echo(orjson.dumps(report.as_dict(), default=str))
    else:
        _print_table(report)
    if report.failed:
        raise QualityFailed(
            f"{len(report.errors)} error-level expectation(s) failed: {'; '.join(report.errors)}",
            hint=f"details in {report.summary_path}",
        )


def _print_table(report) -> None:  # noqa: ANN001
    window = report.window.as_dict()
    click.echo(f"quality check {report.run_id}  window {window['since']} .. {window['until']}")
    for name, check in report.checks.items():
        click.echo(f"  {_MARK[check.status]}  {name:<13} {_headline(check.finding.summary)}")
        for outcome in check.outcomes:
            if not outcome.success and outcome.level != "info":
                click.echo(
                    f"          {outcome.level}: {outcome.expectation} ({outcome.unexpected} unexpected)"
                )
    click.echo(f"status: {report.status}   summary: {report.summary_path}")
    if report.docs:
        click.echo(f"data docs: {report.docs}")


def _headline(summary: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, list | dict))
