"""Visit tables out of the store: every tabular format, the BI views, FHIR R4 Appointment
(validated), and de-identification (years only, no free text, pseudonymous patients)."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select, text, update

from odbridge.export.deidentify import Pseudonymizer, load_or_create_key
from odbridge.export.errors import ExportError
from odbridge.export.fhir import resource_id
from odbridge.export.visits import TABLES, export_appointments_fhir, export_table
from odbridge.store.schema import audit_log, audit_patients
from odbridge.store.schema_visits import appointments, procedure_logs, recalls
from odbridge.store.views import create_views
from tests.visits_data import fill_visits

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 18, 12, 30)
PRACTICE = "smile"


@pytest.fixture
def seeded(store: Engine) -> Engine:
    fill_visits(store, PRACTICE, 60, now=NOW, seed=9, visits_per_patient=6)
    with store.begin() as connection:  # free text that must not survive de-identification
        connection.execute(update(appointments).values(note="Call Mrs Smith at home"))
    return store


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_every_visit_table_in_every_format(seeded: Engine, tmp_path: Path, fmt: str) -> None:
    for name in ("appointments", "procedure_logs", "recalls", "providers"):
        out = tmp_path / f"{name}.{fmt}"
        result = export_table(seeded, name, format=fmt, out=out)
        assert result.rows == count(seeded, TABLES[name])
        assert result.rows > 0
        assert out.stat().st_mode & 0o077 == 0
    out = tmp_path / f"procedure_logs.{fmt}"
    if fmt == "csv":
        with out.open(newline="") as stream:
            rows = list(csv.DictReader(stream))
        assert Decimal(rows[0]["proc_fee"]) > 0
    elif fmt == "jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert first["proc_status"] in ("C", "TP", "TPi", "D")
    elif fmt == "parquet":
        assert pq.read_table(out).num_rows == count(seeded, procedure_logs)
        assert "proc_fee" in pq.read_table(out).column_names
    else:
        sheet = load_workbook(out).active
        assert sheet is not None
        assert sheet.cell(1, 2).value == "proc_num"


def test_deidentified_visits_keep_years_only_and_no_free_text(
    seeded: Engine, tmp_path: Path
) -> None:
    key_file = tmp_path / "deid.key"
    out = tmp_path / "appointments.csv"
    export_table(seeded, "appointments", format="csv", out=out, deidentify=True, key_file=key_file)
    with out.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    header = set(rows[0])
    assert "note" not in header
    assert "proc_descript" not in header
    assert "pat_num" not in header
    assert "apt_date_time" not in header
    assert {"apt_date_time_year", "patient_id"} <= header
    assert all(len(r["apt_date_time_year"]) == 4 for r in rows)
    assert "Smith" not in out.read_text()
    pseudonym = Pseudonymizer(load_or_create_key(key_file))
    with seeded.connect() as connection:
        first = connection.execute(
            select(appointments.c.pat_num).order_by(appointments.c.apt_num).limit(1)
        ).scalar_one()
    assert rows[0]["patient_id"] == pseudonym(PRACTICE, first)
    with seeded.connect() as connection:
        entry = (
            connection.execute(select(audit_log).where(audit_log.c.what == "csv appointments"))
            .mappings()
            .one()
        )
    assert entry["deidentified"] is True
    with seeded.connect() as connection:  # the patients behind the rows, in the audit table
        listed = connection.execute(
            select(audit_patients.c.pat_num).where(audit_patients.c.audit_id == entry["id"])
        ).scalars()
        behind = connection.execute(
            select(appointments.c.pat_num)
            .where(appointments.c.missing_since.is_(None), appointments.c.pat_num.is_not(None))
            .distinct()
        ).scalars()
        assert sorted(listed) == sorted(behind)


def test_fhir_appointments_validate(seeded: Engine, tmp_path: Path) -> None:
    out = tmp_path / "appointments.ndjson"
    result = export_appointments_fhir(seeded, out=out, offset=timedelta(hours=-5))
    lines = out.read_text().splitlines()
    assert len(lines) == result.rows
    assert result.rows > 0
    statuses = set()
    for line in lines:
        resource = json.loads(line)
        model = Appointment.model_validate(resource)
        statuses.add(model.status)
        assert resource["start"].endswith("-05:00")
        patient = resource["participant"][0]["actor"]["reference"]
        assert patient.startswith("Patient/")
    assert {"booked", "fulfilled", "noshow"} <= statuses
    with seeded.connect() as connection:
        apt = connection.execute(
            select(appointments.c.pat_num).order_by(appointments.c.apt_num).limit(1)
        ).scalar_one()
    first = json.loads(lines[0])
    assert first["participant"][0]["actor"]["reference"] == f"Patient/{resource_id(PRACTICE, apt)}"
    bundle_out = tmp_path / "bundle.json"
    export_appointments_fhir(
        seeded,
        out=bundle_out,
        offset=timedelta(0),
        bundle=True,
        deidentify=True,
        key_file=tmp_path / "k",
    )
    bundle = json.loads(bundle_out.read_text())
    Bundle.model_validate(bundle)
    assert "start" not in bundle["entry"][0]["resource"]
    assert "comment" not in bundle["entry"][0]["resource"]


def test_bi_views_match_the_tables(seeded: Engine) -> None:
    create_views(seeded)
    with seeded.connect() as connection:
        views = connection.execute(text("SELECT COUNT(*) FROM v_appointments")).scalar_one()
        production = connection.execute(
            text("SELECT SUM(production) FROM v_production")
        ).scalar_one()
        direct = connection.execute(
            select(
                func.sum(
                    procedure_logs.c.proc_fee
                    * (procedure_logs.c.unit_qty + procedure_logs.c.base_units)
                )
            ).where(procedure_logs.c.proc_status == "C")
        ).scalar_one()
        overdue = connection.execute(
            text("SELECT COUNT(*) FROM v_recall WHERE is_scheduled = 0 AND due_on < :today"),
            {"today": NOW.date()},
        ).scalar_one()
    assert views == count(seeded, appointments)
    assert Decimal(str(production)).quantize(Decimal("0.01")) == Decimal(str(direct)).quantize(
        Decimal("0.01")
    )
    with seeded.connect() as connection:
        direct_overdue = connection.execute(
            select(func.count()).where(
                recalls.c.date_scheduled.is_(None), recalls.c.date_due < NOW.date()
            )
        ).scalar_one()
    assert overdue == direct_overdue


def test_unknown_table_is_refused_and_audited_nothing(seeded: Engine, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="Unknown table"):
        export_table(seeded, "claims", format="csv", out=tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_export_command_takes_a_visit_table(seeded: Engine, store_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from odbridge.cli import app

    out = tmp_path / "recalls.csv"
    result = CliRunner().invoke(
        app, ["export", "--table", "recalls", "--out", str(out), "--db", store_url]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0].startswith("practice,recall_num,pat_num")
    fhir = tmp_path / "apts.ndjson"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--table",
            "appointments",
            "--format",
            "fhir",
            "--utc-offset",
            "-5",
            "--out",
            str(fhir),
            "--db",
            store_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(fhir.read_text().splitlines()[0])["resourceType"] == "Appointment"
