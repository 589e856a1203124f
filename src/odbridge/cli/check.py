"""``odbridge check``: diagnose the connection to Open Dental."""

from __future__ import annotations

import typer
from rich.text import Text

from odbridge.cli.common import (
    BaseUrlOption,
    ModeOption,
    PracticeOption,
    load_profile,
    out,
    record_grid,
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
    profile = load_profile(practice, keys=True, base_url=base_url, mode=mode)
    results = diagnose(profile)
    out().print(Text(f"odbridge check · practice '{profile.name}'", style="bold"))
    grid = record_grid()
    for result in results:
        mark = ("✓", "green") if result.ok else (("–", "dim") if result.skipped else ("✗", "red"))
        grid.add_row(Text.assemble(mark, " ", result.title), Text(result.detail))
        if result.fix:
            grid.add_row("", Text.assemble(("what to do: ", "bold"), result.fix))
    out().print(grid)
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)
