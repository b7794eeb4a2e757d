"""The ``ugc`` command line.

Sub-commands are loaded lazily (``ugc --help`` stays fast and never imports Great
Expectations or Airflow). Every ``UgcError`` is caught once, here, and turned into one line on
stderr and the exit code its class carries (see ``ugc.errors``); nothing prints a traceback
unless ``UGC_LOG_LEVEL=debug``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ugc import __version__
from ugc.errors import UgcError
from ugc.settings import Settings

#: command name -> "module:attribute"; each module owns its command
COMMANDS = {
    "config": "ugc.cli.config_cmd:config",
    "serve": "ugc.cli.serve:serve",
    "topic": "ugc.cli.topic:topic",
    "events": "ugc.cli.events_cmd:events",
    "db": "ugc.cli.db:db",
    "etl": "ugc.cli.etl:etl",
    "quality": "ugc.cli.quality:quality",
    "marts": "ugc.cli.marts:marts",
    "bench": "ugc.cli.bench:bench",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not self._available(name):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None


class State:
    """Shared state for one invocation: the settings, built once, with the command's flags."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    def settings(self, **overrides: Any) -> Settings:
        if self._settings is None or overrides:
            self._settings = Settings.load(overrides)
            from ugc import log

            log.configure(self._settings.log_level, self._settings.log_format)
        return self._settings


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ugc")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """ugc: collect online-cinema user events, load them into ClickHouse, check and report.

    Settings come from UGC_* environment variables (see `ugc config show`) and the flags of
    each command.
    """
    ctx.obj = State()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one place that turns errors into exit codes."""
    try:
        cli.main(args=argv, prog_name="ugc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # one line like every other error; the usage block is a `--help` away
        where = exc.ctx.command_path if exc.ctx else "ugc"
        click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except UgcError as exc:
        click.echo(f"error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line, unless debugging
        if os.environ.get("UGC_LOG_LEVEL", "").lower() == "debug":
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (UGC_LOG_LEVEL=debug shows the traceback)",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)
