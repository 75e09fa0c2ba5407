"""The ``seqgen`` command group and what its commands share: one-line errors, config-backed options.

Each command parses its options, calls one library function and prints. Library failures are
``SeqgenError``s, printed as one ``Error: ...`` line with exit code 1 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from seqgen.config import Config
from seqgen.errors import SeqgenError

DEFAULTS = Config()

def config_option(section: Any, name: str, help: str, **kwargs: Any) -> Any:
    """A click option whose default and type come from the config dataclass field ``name``."""
    default = getattr(section, name)
    flag = "--" + name.replace("_", "-")
    if isinstance(default, bool):
        flag = f"{flag}/--no-{flag[2:]}"
    return click.option(flag, name, default=default, show_default=True, help=help, **kwargs)


class SeqgenGroup(click.Group):
    """Turns SeqgenError into one line on stderr and exit code 1 (bad flags: one line, code 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # bad option value: one line too, with click's exit code 2
            hint = f" (see: seqgen {err.ctx.info_name} --help)" if err.ctx and err.ctx.parent else ""
            click.echo(f"Error: {err.format_message()}{hint}", err=True)
            sys.exit(err.exit_code)
        except SeqgenError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {err}", err=True)
            signum = getattr(err, "signum", None)
            sys.exit(128 + signum if signum else 1)


@click.group(cls=SeqgenGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="seqgen")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Learn from sequences (text, music) and generate new ones."""
    ctx.obj = {"debug": debug}


def fmt(value: Any) -> str:
    return f"{value:,.3f}" if isinstance(value, float) else str(value)


def print_table(facts: dict[str, Any]) -> None:
    """One ``key  value`` line per fact, keys right-aligned, numbers with thousands separators."""
    for key, value in facts.items():
        shown = f"{value:,.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        click.echo(f"{key:>16}  {shown}")
