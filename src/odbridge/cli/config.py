"""``odbridge config``: the settings odbridge uses."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from odbridge.cli.common import PracticeOption, load_profile, out

app = typer.Typer(help="The settings odbridge uses.", no_args_is_help=True)


@app.command("show")
def config_show(practice: PracticeOption = None) -> None:
    """Show the settings in effect (keys masked) and where the config file is."""
    from odbridge.config import config_path

    profile = load_profile(practice)
    table = Table(
        title=escape(f"Settings · {config_path()}"), title_justify="left", show_header=False
    )
    for key, value in profile.describe().items():
        table.add_row(escape(key), escape(value))
    out().print(table)
