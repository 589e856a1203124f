"""The reporting views on SQLite and PostgreSQL: made idempotently, showing what the tables
hold under readable names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, text

from odbridge.store.schema import sync_runs
from odbridge.store.views import VIEWS, create_views, drop_views
from tests.integration.test_export_support import prepare_store, store_records

pytestmark = pytest.mark.integration


def age_on(birthdate: date | None, today: date) -> int | None:
    """Whole years lived by ``today`` (the view's ``age_years``)."""
    if birthdate is None:
        return None
    before_birthday = (today.month, today.day) < (birthdate.month, birthdate.day)
    return today.year - birthdate.year - before_birthday


def test_views_are_made_twice_without_harm_and_show_the_store(store: Engine) -> None:
    prepare_store(store, main=300, north=40)
    assert create_views(store) == [view.name for view in VIEWS]
    assert create_views(store) == [view.name for view in VIEWS]  # again: no error
    records = {(r["practice"], r["pat_num"]): r for r in store_records(store)}
    today = date.today()
    with store.connect() as connection:
        rows = (
            connection.execute(text("SELECT * FROM v_patients ORDER BY practice, patient_number"))
            .mappings()
            .all()
        )
        assert len(rows) == len(records)
        for row in rows:
            record = records[(row["practice"], row["patient_number"])]
            assert row["last_name"] == record["lname"]
            assert row["status"] == record["pat_status"]
            assert row["age_years"] == age_on(record["birthdate"], today)
            assert row["is_guarantor"] == (1 if record["guarantor"] == record["pat_num"] else 0)
            # SQLite hands a view's money back as a float, PostgreSQL as a Decimal
            assert Decimal(str(row["estimated_balance"])) == record["est_balance"]
            assert "ssn" not in row
            assert "email" not in row
        contacts = (
            connection.execute(
                text("SELECT * FROM v_patient_contacts ORDER BY practice, patient_number")
            )
            .mappings()
            .all()
        )
        assert [(c["practice"], c["patient_number"]) for c in contacts] == list(records)
        first = contacts[0]
        record = records[(first["practice"], first["patient_number"])]
        assert (first["mobile_phone"], first["email"], first["address_line1"]) == (
            record["wireless_phone"],
            record["email"],
            record["address"],
        )
        counts = connection.execute(
            text("SELECT practice, status, patients FROM v_patient_counts")
        ).all()
        assert sum(c.patients for c in counts) == len(records)
        patients_main = [r for r in records.values() if r["practice"] == "main"]
        by_status = {c.status: c.patients for c in counts if c.practice == "main"}
        assert by_status["Patient"] == sum(1 for r in patients_main if r["pat_status"] == "Patient")


def test_sync_runs_view_has_durations(store: Engine) -> None:
    with store.begin() as connection:
        connection.execute(
            insert(sync_runs),
            [
                {
                    "practice": "main",
                    "resource": "patients",
                    "mode": "full",
                    "started_at": datetime(2026, 1, 1, 10, 0, 0),
                    "finished_at": datetime(2026, 1, 1, 10, 2, 5),
                    "pages": 3,
                    "rows_received": 250,
                    "outcome": "ok",
                },
                {
                    "practice": "main",
                    "resource": "patients",
                    "mode": "incremental",
                    "started_at": datetime(2026, 1, 1, 11, 0, 0),
                    "finished_at": None,
                    "pages": 0,
                    "rows_received": 0,
                    "outcome": "running",
                },
            ],
        )
    create_views(store)
    with store.connect() as connection:
        runs = connection.execute(
            text(
                "SELECT run_id, mode, duration_seconds, rows_received FROM v_sync_runs "
                "ORDER BY run_id"
            )
        ).all()
    assert [(r.mode, r.duration_seconds, r.rows_received) for r in runs] == [
        ("full", 125, 250),
        ("incremental", None, 0),
    ]


def test_views_can_be_dropped_and_made_again(store: Engine) -> None:
    create_views(store)
    drop_views(store)
    drop_views(store)
    with pytest.raises(Exception, match="v_patients"), store.connect() as connection:
        connection.execute(text("SELECT * FROM v_patients"))
    create_views(store)
    with store.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM v_patients")).scalar() == 0


@pytest.mark.postgres
def test_a_reporting_role_reads_the_views_but_not_the_table() -> None:
    """What docs/export.md advises for Metabase / Power BI on PostgreSQL really holds."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.exc import ProgrammingError

    from odbridge.store.db import create_store_engine
    from tests.helpers import PG_URL

    suffix = uuid.uuid4().hex[:10]
    schema, role = f"t_{suffix}", f"reporting_{suffix}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(text(f'CREATE ROLE "{role}"'))
    engine = create_store_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        prepare_store(engine, main=30, north=0)
        create_views(engine)
        with engine.begin() as connection:
            connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            connection.execute(
                text(f'GRANT SELECT ON v_patients, v_patient_counts, v_sync_runs TO "{role}"')
            )
        with engine.connect() as connection:
            connection.execute(text(f'SET ROLE "{role}"'))
            assert connection.execute(text("SELECT COUNT(*) FROM v_patients")).scalar() == 28
            with pytest.raises(ProgrammingError, match="permission denied"):
                connection.execute(text("SELECT ssn FROM patients"))
            connection.rollback()  # also undoes SET ROLE
            connection.execute(text(f'SET ROLE "{role}"'))
            with pytest.raises(ProgrammingError, match="permission denied"):
                connection.execute(text("SELECT * FROM v_patient_contacts"))
            connection.rollback()
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()
