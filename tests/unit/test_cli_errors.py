"""The command line's one error printer: messages print as written, never as Rich markup."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.cli.common import missing_extra

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


def test_a_missing_optional_library_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def without_pyarrow(db: str | None) -> None:
        raise ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")

    monkeypatch.setattr("odbridge.cli.status.open_store", without_pyarrow)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2
    assert "pip install 'odbridge[export]'" in " ".join(result.stderr.split())
    assert missing_extra(ModuleNotFoundError(name="faker.providers")) is not None
    assert missing_extra(ModuleNotFoundError(name="a_typo")) is None  # a bug, not an extra
