"""``ugc config show``: the effective settings, secrets redacted."""

from __future__ import annotations

import click
import orjson

from ugc.cli import State


@click.group()
def config() -> None:
    """Inspect configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--markdown", is_flag=True, help="Print a Markdown table (used for the README).")
@click.pass_obj
def show(state: State, as_json: bool, markdown: bool) -> None:
    """Print every setting, its environment variable and its effective value."""
    rows = state.settings().describe()
    if markdown:
        click.echo("| variable | default | what it does |\n|---|---|---|")
        for row in rows:
            click.echo(f"| `{row['env']}` | `{row['value']}` | {row['doc']} |")
        return
    if as_json:
        click.echo(orjson.dumps({r["name"]: r["value"] for r in rows}, option=orjson.OPT_INDENT_2))
        return
    width = max(len(r["env"]) for r in rows)
    for row in rows:
        click.echo(f"{row['env']:<{width}}  {row['value']!s:<40}  {row['doc']}")
