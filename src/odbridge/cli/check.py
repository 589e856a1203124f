"""``odbridge check``: diagnose the connection to Open Dental."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from odbridge.cli.common import (
    BaseUrlOption,
    ModeOption,
    PracticeOption,
    load_profile,
    out,
    setup_logging,
)


def check_command(
    practice: PracticeOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = None,
) -> None:
    """Diagnose the connection the way a support technician would; exit 0 only if all pass."""
    from odbridge.api.diagnose import diagnose

    setup_logging("WARNING")
    profile = load_profile(practice, base_url, mode, keys=True)
    results = diagnose(profile)
    table = Table(title=escape(f"odbridge check · practice '{profile.name}'"), title_justify="left")
    table.add_column("")
    table.add_column("check")
    table.add_column("result")
    table.add_column("what to do")
    for result in results:
        mark = "[green]✓[/]" if result.ok else ("[dim]–[/]" if result.skipped else "[red]✗[/]")
        table.add_row(mark, escape(result.title), escape(result.detail), escape(result.fix))
    out().print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)
