"""`odbridge patients list --format csv` neutralises what a spreadsheet would run (item 13)."""

from __future__ import annotations

import csv
import io

import pytest

from odbridge.cli.patients import _PatientWriter

pytestmark = pytest.mark.unit

RECORD = {
    "PatNum": 7,
    "LName": '=HYPERLINK("http://evil.example","x")',
    "FName": "+cmd|' /C calc'!A0",
    "Preferred": "-2+3",
    "Email": "@SUM(1)",
    "Address": "\t=1",
    "City": "Springfield",
    "EstBalance": -12.5,
}


def written(capsys: pytest.CaptureFixture[str], *, guard_formulas: bool) -> dict[str, str]:
    writer = _PatientWriter("csv", guard_formulas=guard_formulas)
    writer.write(dict(RECORD))
    writer.close()
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    return row


def test_csv_cells_that_would_be_formulas_get_an_apostrophe(
    capsys: pytest.CaptureFixture[str],
) -> None:
    row = written(capsys, guard_formulas=True)
    for field in ("LName", "FName", "Preferred", "Email", "Address"):
        assert row[field] == "'" + str(RECORD[field]), field
    assert row["City"] == "Springfield"
    assert row["EstBalance"] == "-12.5"  # a number from the API, not text someone typed
    assert row["PatNum"] == "7"


def test_the_opt_out_writes_them_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    row = written(capsys, guard_formulas=False)
    assert row == {key: str(value) for key, value in RECORD.items()}
