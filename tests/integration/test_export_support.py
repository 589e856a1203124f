"""Shared by the export tests: a store prepared with awkward data, and independent readers.

(No tests here; the name keeps it beside the export tests it serves.)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from odbridge.export.columns import COLUMN_KINDS, DEFAULT_COLUMNS
from odbridge.store.schema import patients
from tests.helpers import fill_store

PAT_NUM_OFFSET = 7_000_000
"""PatNums are shifted to seven digits, so that finding one in an output means something."""

MAIN, NORTH = "main", "North Clinic"
TODAY = date(2026, 6, 15)
"""The day ages are computed for in the tests."""


def prepare_store(engine: Engine, main: int = 1000, north: int = 150) -> None:
    """Two practices of synthetic patients, then the awkward cases real data has: free
    text, names with commas, quotes and accents, text that looks like a formula, restricted
    ZIP prefixes, ages on either side of 90, a super family, rows marked missing."""
    fill_store(engine, MAIN, main, seed=11)
    fill_store(engine, NORTH, north, seed=12)
    p = patients.c
    with engine.begin() as connection:
        connection.execute(
            update(patients).values(
                pat_num=p.pat_num + PAT_NUM_OFFSET, guarantor=p.guarantor + PAT_NUM_OFFSET
            )
        )

        def change(pat: int, practice: str = MAIN, **values: Any) -> None:
            connection.execute(
                update(patients)
                .where(p.practice == practice, p.pat_num == PAT_NUM_OFFSET + pat)
                .values(**values)
            )

        for pat in range(1, main + 1, 7):
            row = connection.execute(
                select(p.fname, p.lname, p.wireless_phone).where(
                    p.practice == MAIN, p.pat_num == PAT_NUM_OFFSET + pat
                )
            ).one()
            change(
                pat,
                fam_fin_urg_note=f"Call {row.fname} {row.lname} at {row.wireless_phone} re bill",
                ward=f"Ward of {row.lname}",
                site_desc="Lincoln Elementary",
            )
        change(2, lname='O\'Brien-Núñez, "Jr"', fname="Zoë", preferred="Zo")
        change(3, fname='=HYPERLINK("http://x")', lname="+Plus", preferred="@at")
        change(4, zip="03601")
        change(5, zip="69201-1234")
        change(6, zip="97201", medicaid_id="987654321", super_family=PAT_NUM_OFFSET + 6)
        change(8, birthdate=TODAY.replace(year=TODAY.year - 90))  # 90 today
        change(9, birthdate=TODAY.replace(year=TODAY.year - 90) + timedelta(days=1))  # 89
        change(10, birthdate=date(1920, 1, 1), pat_status="Deceased")
        change(11, language="Cantonese")
        change(12, missing_since=datetime(2026, 1, 2, 3, 4, 5))
        change(13, missing_since=datetime(2026, 1, 2, 3, 4, 5))


def store_records(
    engine: Engine, *, practice: str | None = None, include_missing: bool = False
) -> list[dict[str, Any]]:
    """Every exportable column of the store's rows, ordered as exports order them."""
    query = select(*(patients.c[name] for name in COLUMN_KINDS)).order_by(
        patients.c.practice, patients.c.pat_num
    )
    if practice is not None:
        query = query.where(patients.c.practice == practice)
    if not include_missing:
        query = query.where(patients.c.missing_since.is_(None))
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


# -- reading the files back, each with a reader that is not ours ---------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def read_xlsx(path: Path) -> list[dict[str, Any]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        sheet = book.worksheets[0]
        found = sheet.iter_rows(values_only=True)
        header = [str(name) for name in next(found)]
        return [dict(zip(header, row, strict=False)) for row in found]
    finally:
        book.close()


CSV_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
"""First characters that make a CSV text cell a formula in a spreadsheet (full-width too)."""

READERS = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet, "xlsx": read_xlsx}
SUFFIX = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet", "xlsx": "xlsx", "fhir": "ndjson"}


def as_written(fmt: str, kind: str, value: Any) -> Any:
    """What a store value should read back as from ``fmt`` with its reader."""
    if fmt == "parquet":
        return value
    if fmt == "csv":
        if value is None:
            return ""
        if kind == "date":
            return value.isoformat()
        if kind == "datetime":
            return value.isoformat(sep=" ")
        if kind == "money":
            return f"{value:.2f}"
        if kind == "bool":
            return "true" if value else "false"
        if kind == "text" and value.lstrip(" ")[:1] in CSV_FORMULA_STARTS:
            return "'" + value  # a spreadsheet would run it: neutralised
        return str(value)
    if fmt == "jsonl":
        if value is None:
            return None
        if kind == "date":
            return value.isoformat()
        if kind == "datetime":
            return value.isoformat()
        if kind == "money":
            return f"{value:.2f}"
        return value
    if fmt == "xlsx":
        if value is None:
            return None
        if kind == "date":
            return datetime.combine(value, datetime.min.time())
        if kind == "money":
            return float(value)
        return value
    raise ValueError(fmt)


def expected_rows(
    fmt: str, records: Iterable[dict[str, Any]], columns: Iterable[str] = DEFAULT_COLUMNS
) -> list[dict[str, Any]]:
    names = list(columns)
    return [
        {name: as_written(fmt, COLUMN_KINDS[name], record[name]) for name in names}
        for record in records
    ]
