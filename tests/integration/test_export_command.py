"""``odbridge export`` and ``odbridge views`` as the command line runs them (Typer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.store.audit import entries
from odbridge.store.db import create_store_engine
from odbridge.store.views import VIEWS
from tests.integration.test_export_support import prepare_store, read_csv

pytestmark = pytest.mark.integration


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = create_store_engine(url)
    prepare_store(engine, main=150, north=20)
    engine.dispose()
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_export_to_a_file_format_from_its_name(db: str, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    code, stdout, stderr = run(
        "export",
        "--db",
        db,
        "-o",
        str(out),
        "--status",
        "Patient",
        "--status",
        "inactive",
        "--practice",
        "main",
        "--columns",
        "pat_num,pat_status",
    )
    assert code == 0, stderr
    rows = read_csv(out)
    assert {row["pat_status"] for row in rows} <= {"Patient", "Inactive"}
    assert f"Exported {len(rows):,} patients to {out} (csv)." in " ".join(stderr.split())
    assert stdout == ""


def test_export_to_standard_output(db: str) -> None:
    code, stdout, stderr = run("export", "--db", db, "--out", "-", "--format", "fhir")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert len(lines) == 168
    assert json.loads(lines[0])["resourceType"] == "Patient"
    assert "standard output" in stderr


def test_deidentified_export_uses_the_key_file_given(db: str, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "deid.key"
    key.parent.mkdir()
    out = tmp_path / "d.parquet"
    code, _, stderr = run(
        "export",
        "--db",
        db,
        "-o",
        str(out),
        "--deidentify",
        "--deid-key-file",
        str(key),
        "--status",
        "Patient,Deceased,Inactive,NonPatient,Archived,Deleted,Prospective",
    )
    assert code == 0, stderr
    assert "de-identified" in stderr
    assert key.exists()
    engine = create_store_engine(db)
    (entry, *_) = entries(engine)
    engine.dispose()
    assert (entry.what, entry.deidentified, entry.rows) == ("parquet", True, 168)
    assert entry.detail == (
        "to=file; statuses=Patient,Deceased,Inactive,NonPatient,Archived,Deleted,Prospective"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "-", "-f", "parquet"], "parquet cannot go to standard output"),
        (["-o", "x.ndjson"], "Cannot tell the format"),
        (["-f", "csv"], "Give the file to write with --out"),
        (["-o", "-", "-f", "csv", "--changed-since", "yesterday"], "--changed-since must be"),
        (["-o", "-", "-f", "csv", "--columns", "lname,dob"], "Unknown column"),
        (["-o", "-", "-f", "csv", "--deidentify", "--columns", "lname"], "never hold lname"),
        (
            ["-o", "-", "-f", "csv", "--deidentify", "--changed-since", "2020-01-01"],
            "--changed-since cannot be combined with --deidentify",
        ),
        (["-o", "-", "-f", "csv", "--columns", "pat_num,ssn"], "add --include-ssn"),
        (["-o", "-", "-f", "csv", "--deidentify", "--include-ssn"], "never hold SSNs"),
        (["-o", "-", "-f", "fhir", "--include-ssn"], "FHIR exports never carry the SSN"),
    ],
)
def test_mistakes_exit_2_with_one_sentence(
    db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    code, stdout, stderr = run("export", "--db", db, "--deid-key-file", str(tmp_path / "k"), *args)
    assert code == 2
    assert message in " ".join(stderr.split())
    assert "Traceback" not in stderr
    assert stdout == ""


def test_no_match_is_warned_about(db: str, tmp_path: Path) -> None:
    code, _, stderr = run("export", "--db", db, "-o", str(tmp_path / "p.xlsx"), "-p", "nowhere")
    assert code == 0
    assert "No patient matched" in stderr


def test_list_columns(db: str) -> None:
    code, stdout, _ = run("export", "--list-columns")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == "practice"
    assert "missing_since  (not in the default)" in lines


def test_views_command(db: str) -> None:
    code, _, stderr = run("views", "--db", db)
    assert code == 0, stderr
    assert "v_patients" in stderr
    assert f"{len(VIEWS)} views ready." in stderr
