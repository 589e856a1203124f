"""The ``odbridge`` command line: wires the library's parts together; holds no logic of its own.

One module per command group; :mod:`odbridge.cli.common` holds what they share (the shared
options, the one error printer, the store and practice loaders). Commands let odbridge's
errors (:class:`~odbridge.errors.OdbridgeError`) through: the group prints them. Nothing
outside this package imports it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from odbridge._version import __version__
from odbridge.cli import config, patients, queue, user
from odbridge.cli.check import check_command
from odbridge.cli.common import exit_code_for, fail, missing_extra
from odbridge.cli.demo import demo_command
from odbridge.cli.export import export_command, views_command
from odbridge.cli.mcp import mcp_command
from odbridge.cli.serve import serve_command
from odbridge.cli.simulate import simulate_command
from odbridge.cli.status import status_command
from odbridge.cli.sync import sync_command
from odbridge.errors import OdbridgeError


class _Commands(TyperGroup):
    """The command group; every OdbridgeError a command lets through is caught here, once:
    its message printed plainly, exit 2 (bad input or configuration) or 1 (the API failed).
    A missing optional library says which extra to install."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _reflow_help(self)

    def invoke(self, ctx: Any) -> Any:  # click.Context (vendored by newer Typer)
        try:
            return super().invoke(ctx)
        except OdbridgeError as exc:
            raise fail(str(exc), code=exit_code_for(exc)) from None
        except ModuleNotFoundError as exc:  # an optional part that is not installed
            hint = missing_extra(exc, ctx.invoked_subcommand)
            if hint is None:
                raise
            raise fail(hint) from None


def reflow(text: str) -> str:
    """A help text's paragraphs each as one line, for the terminal to wrap: a docstring's
    line breaks (made for the source's width) are not the reader's. A paragraph starting
    with ``\\b`` (click's "keep as written") is left as it is."""
    paragraphs = text.split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def _reflow_help(command: Any) -> None:
    """:func:`reflow` the help of a command and of every command under it."""
    if command.help:
        command.help = reflow(command.help)
    for child in getattr(command, "commands", {}).values():
        _reflow_help(child)


app = typer.Typer(
    cls=_Commands,
    name="odbridge",
    help="Read patient data out of Open Dental into a local database, a dashboard and exports.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold keys and patient data
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"odbridge {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """odbridge: Open Dental patient data, synced, browsable and exportable."""


# the order of `odbridge --help`
app.command("simulate")(simulate_command)
app.command("sync")(sync_command)
app.command("status")(status_command)
app.command("export")(export_command)
app.command("views")(views_command)
app.command("check")(check_command)
app.add_typer(patients.app, name="patients")
app.add_typer(config.app, name="config")
app.command("serve")(serve_command)
app.add_typer(user.app, name="user")
app.command("mcp")(mcp_command)
app.command("demo")(demo_command)
app.command("worker")(queue.worker_command)
app.add_typer(queue.app, name="queue")

__all__ = ["app"]
