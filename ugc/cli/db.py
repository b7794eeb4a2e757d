"""``ugc db``: the warehouse schema (migrations) and what is in it."""

from __future__ import annotations

import click
import orjson

from ugc.cli import State


def _open(state: State, url: str | None, *, create: bool = False):  # noqa: ANN202
    from ugc.adapters.clickhouse import connect

    settings = state.settings(clickhouse_url=url) if url else state.settings()
    return connect(settings.warehouse_url, create_database=create)


@click.group()
def db() -> None:
    """Manage the ClickHouse warehouse (UGC_CLICKHOUSE_URL: a server or chdb)."""


@db.command("migrate")
@click.option("--url", default=None, help="Warehouse URL (default: UGC_CLICKHOUSE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
def migrate_cmd(state: State, url: str | None, as_json: bool) -> None:
    """Apply the migrations in clickhouse/migrations that the warehouse has not recorded.

    Creates the database of a server URL when it is missing. Safe to run again.
    """
    from ugc.adapters.clickhouse.migrate import migrate

    with _open(state, url, create=True) as warehouse:
        ran = migrate(warehouse)
        summary = {
            "warehouse": warehouse.url,
            "server_version": warehouse.capabilities.version,
            "modern": warehouse.capabilities.modern,
            "applied": [f"{m.version:03d}_{m.name}" for m in ran],
        }
    if as_json:
        click.echo(orjson.dumps(summary))
    elif ran:
        click.echo(f"applied {', '.join(summary['applied'])} to {summary['warehouse']}")
    else:
        click.echo(f"{summary['warehouse']} is up to date")


@db.command("status")
@click.option("--url", default=None, help="Warehouse URL (default: UGC_CLICKHOUSE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status_cmd(state: State, url: str | None, as_json: bool) -> None:
    """Show which migrations are applied, pending or changed since they were applied."""
    from ugc.adapters.clickhouse.migrate import applied, discover

    with _open(state, url) as warehouse:
        done = applied(warehouse)
        rows = []
        for migration in discover():
            record = done.get(migration.version)
            if record is None:
                state_text = "pending"
            elif record[1] != migration.checksum:
                state_text = "changed"
            else:
                state_text = "applied"
            rows.append(
                {
                    "migration": f"{migration.version:03d}_{migration.name}",
                    "state": state_text,
                    "applied_at": str(record[2]) if record else None,
                }
            )
        head = {"warehouse": warehouse.url, "server_version": warehouse.capabilities.version}
    if as_json:
        click.echo(orjson.dumps({**head, "migrations": rows}))
        return
    click.echo(f"{head['warehouse']} (ClickHouse {head['server_version']})")
    for row in rows:
        click.echo(f"  {row['migration']:<28} {row['state']:<8} {row['applied_at'] or ''}")
