"""``ugc marts build`` / ``ugc marts show``: the monthly analytics marts.

Exit codes: 0 done, 2 a bad ``--month`` (or ``show`` of a month never built), 3 a bad setting,
4 the warehouse is down or not migrated, 6 the embedded warehouse is owned by another process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from ugc.cli import State

_TEXT_COLUMNS = {
    "vendor_films": ("vendor_id", "films", "additions"),
    "active_users": ("mau", "avg_dau", "peak_dau", "active_days", "events"),
    "time_on_page": ("page_type", "views", "avg_s", "median_s", "p90_s", "excluded"),
    "video_completions": ("video_id", "completions", "full_watches", "viewers"),
    "quality_switches": ("video_id", "switches_up", "switches_down", "switches"),
    "search_filters": ("filter", "uses", "users"),
    "clicks": ("element_type", "page_type", "clicks", "users"),
}


@click.group()
def marts() -> None:
    """Monthly marts: vendor films, active users, time on page, videos, searches, clicks."""


def _month_option(func: Any) -> Any:
    return click.option("--month", required=True, metavar="YYYY-MM", help="The month, UTC.")(func)


def _url_option(func: Any) -> Any:
    return click.option("--url", default=None, help="Warehouse URL (default: UGC_CLICKHOUSE_URL).")(
        func
    )


def _open(state: State, url: str | None):  # noqa: ANN202
    from ugc.adapters.clickhouse import connect

    settings = state.settings(clickhouse_url=url) if url else state.settings()
    return connect(settings.warehouse_url)


@marts.command("build")
@_month_option
@_url_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
def build(state: State, month: str, url: str | None, as_json: bool) -> None:
    """Build (or rebuild: it replaces the month) every mart for --month."""
    from ugc.marts.build import build_month
    from ugc.marts.month import Month

    parsed = Month.parse(month)
    with _open(state, url) as warehouse:
        summary = build_month(warehouse, parsed)
    if as_json:
        click.echo(orjson.dumps(summary))
        return
    rows = ", ".join(f"{name} {count}" for name, count in summary["rows"].items())
    click.echo(
        f"marts {summary['month']} built from {summary['source_events']:,} events in "
        f"{summary['seconds']:.2f} s ({summary['build_id']}): {rows}"
    )


@marts.command("show")
@_month_option
@_url_option
@click.option("--json", "as_json", is_flag=True, help="Print every mart's rows as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a self-contained HTML page with charts to this file.",
)
@click.option("--top", default=10, show_default=True, help="Rows per ranking in the text/HTML.")
@click.pass_obj
def show(
    state: State, month: str, url: str | None, as_json: bool, html_path: Path | None, top: int
) -> None:
    """Show the marts of a built month."""
    from ugc.marts.build import read_month
    from ugc.marts.month import Month

    parsed = Month.parse(month)
    with _open(state, url) as warehouse:
        data = read_month(warehouse, parsed)
    if html_path is not None:
        from ugc.marts.html import render

        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render(data, top=top), encoding="utf-8")
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    else:
        _print_text(data, top)
    if html_path is not None and not as_json:
        click.echo(f"html: {html_path}")


def _print_text(data: dict[str, Any], top: int) -> None:
    build = data["build"]
    click.echo(
        f"marts {data['month']} (build {build['build_id']} at {build['built_at']}, "
        f"{build['source_events']:,} events)"
    )
    for name, columns in _TEXT_COLUMNS.items():
        rows = data["marts"].get(name, [])
        click.echo(f"\n{name} ({len(rows)} rows)")
        if not rows:
            continue
        widths = [max(len(c), *(len(_cell(r.get(c))) for r in rows[:top])) for c in columns]
        click.echo(
            ("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))).rstrip()
        )
        for row in rows[:top]:
            cells = (_cell(row.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True))
            click.echo(("  " + "  ".join(cells)).rstrip())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return "-" if value is None else str(value)
