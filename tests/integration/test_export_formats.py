"""Every tabular format, read back with an independent reader and compared with the store,
on SQLite and PostgreSQL; filters, standard output, streaming, failures and the audit log."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from odbridge.export import ExportError, export
from odbridge.export import run as export_run
from odbridge.export.columns import DEFAULT_COLUMNS
from odbridge.store.audit import entries
from odbridge.store.schema import audit_log, audit_patients, patients
from tests.integration.test_export_support import (
    MAIN,
    NORTH,
    PAT_NUM_OFFSET,
    READERS,
    SUFFIX,
    expected_rows,
    prepare_store,
    read_csv,
    read_jsonl,
    store_records,
)

pytestmark = pytest.mark.integration

TABULAR = ("csv", "jsonl", "parquet", "xlsx")


@pytest.mark.parametrize("fmt", TABULAR)
def test_every_row_and_value_reads_back_equal_to_the_store(
    store: Engine, tmp_path: Path, fmt: str
) -> None:
    prepare_store(store)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / f"patients.{SUFFIX[fmt]}"
    result = export(store, format=fmt, out=out, username="tester")
    records = store_records(store)
    assert result.rows == len(records) == 1000 + 150 - 2  # two rows marked missing
    assert (result.path, result.format, result.deidentified) == (out, fmt, False)
    found = READERS[fmt](out)
    assert [list(row) for row in found[:1]] == [list(DEFAULT_COLUMNS)]
    assert found == expected_rows(fmt, records)
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in folder.iterdir()) == [out.name]  # no temporary left


def test_parquet_has_real_types(store: Engine, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    prepare_store(store, main=300, north=10)
    export(store, format="parquet", out=tmp_path / "p.parquet")
    schema = pq.read_schema(tmp_path / "p.parquet")
    assert schema.field("pat_num").type == pa.int64()
    assert schema.field("birthdate").type == pa.date32()
    assert schema.field("date_tstamp").type == pa.timestamp("us")
    assert schema.field("est_balance").type == pa.decimal128(12, 2)
    assert schema.field("premed").type == pa.bool_()
    assert schema.field("lname").type == pa.string()
    assert schema.metadata[b"odbridge.deidentified"] == b"false"


def test_xlsx_has_a_frozen_bold_header_formats_and_text_never_formulas(
    store: Engine, tmp_path: Path
) -> None:
    import openpyxl

    prepare_store(store, main=60, north=0)
    out = tmp_path / "p.xlsx"
    export(store, format="xlsx", out=out)
    book = openpyxl.load_workbook(out)
    sheet = book["patients"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    assert sheet.auto_filter.ref.startswith("A1:")
    header = [cell.value for cell in sheet[1]]
    assert header == list(DEFAULT_COLUMNS)
    assert all(cell.font.bold for cell in sheet[1])
    column = {name: i + 1 for i, name in enumerate(header)}
    row = next(
        r
        for r in range(2, sheet.max_row + 1)
        if sheet.cell(r, column["fname"]).value
        and str(sheet.cell(r, column["fname"]).value).startswith("=")
    )
    cell = sheet.cell(row, column["fname"])
    assert cell.data_type != "f"
    assert cell.value == '=HYPERLINK("http://x")'
    birth = next(
        sheet.cell(r, column["birthdate"])
        for r in range(2, sheet.max_row + 1)
        if sheet.cell(r, column["birthdate"]).value
    )
    assert birth.is_date
    assert birth.number_format == "yyyy-mm-dd"
    money = sheet.cell(2, column["est_balance"])
    assert money.number_format == "#,##0.00"
    book.close()


def test_filters_practice_status_changed_since_and_missing(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=400, north=50)
    out = tmp_path / "p.csv"

    def pat_nums(**options: Any) -> list[tuple[str, int]]:
        export(store, format="csv", out=out, **options)
        return [(row["practice"], int(row["pat_num"])) for row in read_csv(out)]

    every = [(r["practice"], r["pat_num"]) for r in store_records(store)]
    assert pat_nums() == every
    assert pat_nums(practice=NORTH) == [k for k in every if k[0] == NORTH]
    assert pat_nums(practice="nowhere") == []
    wanted = [
        (r["practice"], r["pat_num"])
        for r in store_records(store)
        if r["pat_status"] in ("Patient", "Inactive")
    ]
    assert pat_nums(statuses=["patient", "Inactive"]) == wanted
    assert pat_nums(statuses="Patient,Inactive") == wanted
    # Half the rows last changed in the store in 2024, the others at fill time.
    with store.begin() as connection:
        connection.execute(
            update(patients)
            .where(patients.c.pat_num % 2 == 0)
            .values(last_synced_at=datetime(2024, 5, 1, 12, 0, 0))
        )
    recent = [k for k in every if k[1] % 2 == 1]
    assert pat_nums(changed_since=datetime(2025, 1, 1).date()) == recent
    assert pat_nums(changed_since=datetime(2024, 5, 1).date()) == every
    assert pat_nums(changed_since=datetime(2024, 5, 1, 12, 0, 1)) == recent
    in_new_york = timezone(timedelta(hours=-4))  # 08:00 there is 12:00 UTC
    assert pat_nums(changed_since=datetime(2024, 5, 1, 8, 0, 0, tzinfo=in_new_york)) == every
    assert pat_nums(changed_since=datetime(2024, 5, 1, 8, 0, 1, tzinfo=in_new_york)) == recent
    with_missing = [
        (r["practice"], r["pat_num"]) for r in store_records(store, include_missing=True)
    ]
    assert len(with_missing) == len(every) + 2
    assert pat_nums(include_missing=True) == with_missing


def test_chosen_columns_in_the_order_given(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=100, north=0)
    out = tmp_path / "p.jsonl"
    export(store, format="jsonl", out=out, columns="Zip, pat_num,missing_since,zip")
    found = read_jsonl(out)
    assert list(found[0]) == ["zip", "pat_num", "missing_since"]
    records = store_records(store)
    assert found == expected_rows("jsonl", records, ["zip", "pat_num", "missing_since"])


def test_jsonl_keeps_money_exact_as_text_and_dates_iso(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=200, north=0)
    out = tmp_path / "p.jsonl"
    export(store, format="jsonl", out=out)
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert isinstance(first["est_balance"], str)
    assert first["est_balance"].count(".") == 1
    assert len(first["est_balance"].split(".")[1]) == 2
    assert datetime.fromisoformat(first["date_tstamp"])
    assert "T" in first["date_tstamp"]
    assert isinstance(first["pat_num"], int)
    assert isinstance(first["premed"], bool)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "fhir"])
def test_standard_output(store: Engine, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    prepare_store(store, main=120, north=0)
    capsys.readouterr()
    result = export(store, format=fmt, out="-")
    text = capsys.readouterr().out
    assert result.path is None
    assert result.rows == 118
    lines = text.splitlines()
    assert len(lines) == 118 + (1 if fmt == "csv" else 0)
    if fmt != "csv":
        assert all(json.loads(line) for line in lines)
    assert "Zoë" in text


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_binary_formats_refuse_standard_output(store: Engine, fmt: str) -> None:
    with pytest.raises(ExportError, match="standard output"):
        export(store, format=fmt, out="-")
    assert entries(store) == []


def test_rows_are_read_and_written_in_batches(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing holds the whole export: the writer gets at most ``batch_size`` rows at once."""
    prepare_store(store, main=450, north=0)
    sizes: list[int] = []
    real = export_run._writer

    def spying(*args: Any, **kwargs: Any) -> Any:
        writer = real(*args, **kwargs)
        write = writer.write

        def counted(rows: Any) -> None:
            sizes.append(len(rows))
            write(rows)

        writer.write = counted  # type: ignore[method-assign]
        return writer

    monkeypatch.setattr(export_run, "_writer", spying)
    result = export(store, format="parquet", out=tmp_path / "p.parquet", batch_size=100)
    assert result.rows == 448
    assert max(sizes) == 100
    assert len(sizes) == math.ceil(448 / 100)


def test_a_failure_leaves_no_file_no_secret_and_is_audited(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare_store(store, main=300, north=0)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "p.xlsx"
    out.write_bytes(b"the previous export")
    real = export_run._writer

    def failing(*args: Any, **kwargs: Any) -> Any:
        writer = real(*args, **kwargs)
        calls = {"n": 0}
        write = writer.write

        def write_then_fail(rows: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise ValueError("cannot convert 'Zoë O'Brien' 503-555-1234")
            write(rows)

        writer.write = write_then_fail  # type: ignore[method-assign]
        return writer

    monkeypatch.setattr(export_run, "_writer", failing)
    with pytest.raises(ExportError) as caught:
        export(store, format="xlsx", out=out, batch_size=100, username="tester")
    message = str(caught.value)
    assert "after 100 rows" in message
    assert "Zo" not in message
    assert "555" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert out.read_bytes() == b"the previous export"
    assert sorted(p.name for p in folder.iterdir()) == ["p.xlsx"]
    (entry,) = entries(store)
    assert (entry.action, entry.what, entry.rows, entry.username) == (
        "export",
        "xlsx",
        100,
        "tester",
    )
    assert entry.detail is not None
    assert "failed=ValueError" in entry.detail
    with store.connect() as connection:
        first_hundred = connection.execute(
            select(patients.c.practice, patients.c.pat_num)
            .where(patients.c.missing_since.is_(None))
            .order_by(patients.c.practice, patients.c.pat_num)
            .limit(100)
        ).all()
    assert exported_in_audit(store) == sorted(tuple(r) for r in first_hundred)  # as written


def exported_in_audit(store: Engine) -> list[tuple[str, int]]:
    """(practice, PatNum) the newest audit entry lists in the per-patient table."""
    with store.connect() as connection:
        newest = connection.execute(select(func.max(audit_log.c.id))).scalar_one()
        found = connection.execute(
            select(audit_patients.c.practice, audit_patients.c.pat_num).where(
                audit_patients.c.audit_id == newest
            )
        ).all()
    return sorted((str(p), int(n)) for p, n in found)


def test_an_export_lists_its_patients_in_the_audit_table(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=120, north=15)
    export(
        store,
        format="csv",
        out=tmp_path / "names.csv",
        practice=MAIN,
        statuses=["Patient"],
        columns=["lname", "fname"],  # no PatNum in the file: the audit still knows who
    )
    with store.connect() as connection:
        expected = connection.execute(
            select(patients.c.practice, patients.c.pat_num).where(
                patients.c.practice == MAIN,
                patients.c.pat_status == "Patient",
                patients.c.missing_since.is_(None),
            )
        ).all()
    assert expected
    assert exported_in_audit(store) == sorted((str(p), int(n)) for p, n in expected)
    key = tmp_path / "k"
    export(store, format="jsonl", out=tmp_path / "all.jsonl", deidentify=True, key_file=key)
    (entry, *_) = entries(store)
    assert entry.deidentified is True  # pseudonyms in the file, the real PatNums audited
    assert entry.rows is not None
    assert len(exported_in_audit(store)) == entry.rows > len(expected)


def test_each_export_is_audited_without_patient_data(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=200, north=20)
    export(
        store,
        format="csv",
        out=tmp_path / "Zoe OBrien.csv",
        username="alice",
        changed_since=datetime(2020, 1, 1).date(),
    )
    export(
        store,
        format="parquet",
        out=tmp_path / "d.parquet",
        practice=MAIN,
        statuses=["Patient"],
        deidentify=True,
        key_file=tmp_path / "key",
        username="bob",
    )
    export(store, format="fhir", out=tmp_path / "f.json", fhir_bundle=True)
    newest, second, first = entries(store)
    assert (first.username, first.action, first.what) == ("alice", "export", "csv")
    assert (first.rows, first.practice, first.deidentified) == (218, None, False)
    assert first.detail == "to=file; changed_since=2020-01-01"
    assert (second.username, second.what, second.practice, second.deidentified) == (
        "bob",
        "parquet",
        MAIN,
        True,
    )
    assert second.rows == len(
        [r for r in store_records(store, practice=MAIN) if r["pat_status"] == "Patient"]
    )
    assert second.detail == "to=file; statuses=Patient"
    assert newest.username.startswith("os:")
    assert (newest.what, newest.detail) == ("fhir", "to=file; bundle")
    for entry in (first, second, newest):
        assert "Zoe" not in (entry.detail or "")
        assert str(PAT_NUM_OFFSET + 1) not in (entry.detail or "")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "pdf"}, "Unknown format 'pdf'"),
        ({"format": "csv", "fhir_bundle": True}, "fhir format only"),
        ({"format": "fhir", "columns": ["lname"]}, "fixed shape"),
        ({"format": "csv", "columns": "lname,shoe_size"}, "Unknown column.*shoe_size"),
        ({"format": "csv", "columns": " , "}, "No columns"),
        ({"format": "csv", "statuses": ["Patient", "Gone"]}, "Unknown patient status 'Gone'"),
        ({"format": "csv", "deidentify": True, "columns": "gender,ssn,lname"}, "ssn, lname"),
        ({"format": "csv", "batch_size": 0}, "at least 1"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    from odbridge.store.db import create_store_engine

    engine = create_store_engine(f"sqlite:///{tmp_path / 's.sqlite'}")
    options.setdefault("out", tmp_path / "out.csv")
    with pytest.raises(ExportError, match=message):
        export(engine, key_file=tmp_path / "key", **options)
    assert not (tmp_path / "out.csv").exists()
    assert entries(engine) == []
    engine.dispose()


def test_missing_folder_and_folder_as_file_are_explained(store: Engine, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        export(store, format="csv", out=tmp_path / "nope" / "p.csv")
    with pytest.raises(ExportError, match="is a folder"):
        export(store, format="csv", out=tmp_path)


def test_an_empty_selection_still_makes_valid_files(store: Engine, tmp_path: Path) -> None:
    import openpyxl
    import pyarrow.parquet as pq

    for fmt in TABULAR:
        out = tmp_path / f"e.{SUFFIX[fmt]}"
        assert export(store, format=fmt, out=out).rows == 0
    assert read_csv(tmp_path / "e.csv") == []
    assert (tmp_path / "e.csv").read_text(encoding="utf-8").startswith("practice,pat_num,")
    assert (tmp_path / "e.jsonl").read_text(encoding="utf-8") == ""
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
    book = openpyxl.load_workbook(tmp_path / "e.xlsx", read_only=True)
    assert [c.value for c in next(book.worksheets[0].iter_rows())][:2] == ["practice", "pat_num"]
    book.close()


def test_pat_nums_are_the_stores(store: Engine, tmp_path: Path) -> None:
    """Guard for the other tests: the shifted seven-digit PatNums are what gets exported."""
    prepare_store(store, main=20, north=0)
    export(store, format="csv", out=tmp_path / "p.csv")
    assert int(read_csv(tmp_path / "p.csv")[0]["pat_num"]) == PAT_NUM_OFFSET + 1
