"""The column whitelist, its kinds, the status filter and format names."""

from __future__ import annotations

import pytest

from odbridge.export import ExportError, format_for
from odbridge.export.columns import (
    COLUMN_KINDS,
    DEFAULT_COLUMNS,
    EXPORTABLE_COLUMNS,
    resolve_columns,
    resolve_statuses,
)
from odbridge.store.schema import PATIENT_FIELD_NAMES

pytestmark = pytest.mark.unit


def test_the_whitelist() -> None:
    assert len(PATIENT_FIELD_NAMES) == 48
    assert EXPORTABLE_COLUMNS[0] == "practice"
    assert set(PATIENT_FIELD_NAMES) <= set(EXPORTABLE_COLUMNS)
    for private in ("extra", "row_hash", "seen_pass"):
        assert private not in EXPORTABLE_COLUMNS
    assert set(DEFAULT_COLUMNS) <= set(EXPORTABLE_COLUMNS)
    assert "missing_since" not in DEFAULT_COLUMNS


def test_kinds_follow_the_store() -> None:
    assert COLUMN_KINDS["pat_num"] == "int"
    assert COLUMN_KINDS["guarantor"] == "int"
    assert COLUMN_KINDS["lname"] == "text"
    assert COLUMN_KINDS["fam_fin_urg_note"] == "text"
    assert COLUMN_KINDS["birthdate"] == "date"
    assert COLUMN_KINDS["date_tstamp"] == "datetime"
    assert COLUMN_KINDS["last_synced_at"] == "datetime"
    assert COLUMN_KINDS["est_balance"] == "money"
    assert COLUMN_KINDS["premed"] == "bool"


def test_resolve_columns() -> None:
    assert resolve_columns(None) == DEFAULT_COLUMNS
    assert resolve_columns(" LName, fname,lname ,") == ("lname", "fname")
    assert resolve_columns(["zip", "Pat_Num"]) == ("zip", "pat_num")
    with pytest.raises(ExportError, match=r"Unknown column\(s\): row_hash, x\. Exportable"):
        resolve_columns("lname,row_hash,x")
    with pytest.raises(ExportError, match="No columns"):
        resolve_columns([])


def test_resolve_statuses() -> None:
    assert resolve_statuses(None) is None
    assert resolve_statuses("patient, INACTIVE") == ("Patient", "Inactive")
    assert resolve_statuses(["Deceased", "Archived,deceased"]) == ("Deceased", "Archived")
    with pytest.raises(ExportError, match=r"Unknown patient status .Gone.\. Use any of: Patient"):
        resolve_statuses(["Gone"])
    with pytest.raises(ExportError, match="No status"):
        resolve_statuses(" ")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("b.JSONL", "jsonl"),
        ("c.parquet", "parquet"),
        ("d.pq", "parquet"),
        ("e.xlsx", "xlsx"),
    ],
)
def test_format_from_the_file_name(name: str, fmt: str) -> None:
    assert format_for(name) == fmt


@pytest.mark.parametrize("name", ["patients.ndjson", "patients", "-", "x.json"])
def test_ambiguous_names_ask_for_the_format(name: str) -> None:
    with pytest.raises(ExportError, match="--format"):
        format_for(name)
