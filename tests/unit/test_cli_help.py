"""Help texts read as paragraphs at any terminal width, not at the source's line breaks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from odbridge.cli import app, reflow

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("command", "first", "last"),
    [
        (["worker"], "Start one on each machine", "then the worker exits."),
        (["sync"], "Only one sync of a practice runs at a time", "(or waits, with --wait)."),
        (["queue", "migrate"], "Create the queue's tables", "(with the new odbridge)."),
    ],
)
def test_a_commands_paragraph_is_wrapped_by_the_terminal_only(
    command: list[str], first: str, last: str
) -> None:
    # on a wide terminal a paragraph is one line; the docstring broke it every ~90 characters
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if first in line]
    assert last in line, line


def test_reflow_keeps_paragraphs_and_click_verbatim_blocks() -> None:
    text = "First line\nwraps.\n\nSecond\nparagraph.\n\n\b\nkept\n  as written"
    assert reflow(text) == "First line wraps.\n\nSecond paragraph.\n\n\b\nkept\n  as written"
