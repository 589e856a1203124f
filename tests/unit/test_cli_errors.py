"""The command line's one error printer: messages print as written, never as Rich markup."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from odbridge.cli import app

pytestmark = pytest.mark.unit


def test_an_error_quoting_square_brackets_prints_them_verbatim() -> None:
    # the file name reaches the message; Rich would read "[bold]" as a style and drop it
    result = CliRunner().invoke(app, ["export", "--out", "a[bold]b.[red]x"])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "error: Cannot tell the format from 'a[bold]b.[red]x'" in message
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("odbridge ")
