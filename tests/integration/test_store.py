"""The store: private SQLite files, and a schema an older odbridge refuses to touch."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine

from odbridge.queue.migrations import conninfo
from odbridge.store.db import StoreError, create_read_only_engine, create_store_engine
from odbridge.store.schema import SCHEMA_VERSION, schema_version

pytestmark = pytest.mark.integration


def test_sqlite_file_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.sqlite"
    create_store_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
@pytest.mark.parametrize("spelling", ["postgres://", "postgresql://"])
def test_a_libpq_spelled_postgresql_url_opens_the_store(store_url: str, spelling: str) -> None:
    # the DATABASE_URL form many hosts give: SQLAlchemy alone says "Can't load plugin"
    libpq = spelling + store_url.removeprefix("postgresql+psycopg://")
    for engine in (create_store_engine(libpq), create_read_only_engine(libpq)):
        with engine.connect() as connection:
            assert connection.execute(schema_version.select()).scalars().all()
        engine.dispose()
    assert conninfo(libpq).startswith("postgresql://")  # the queue's connection


def test_a_newer_schema_is_refused_and_left_alone(store: Engine, store_url: str) -> None:
    with store.begin() as connection:
        connection.execute(schema_version.insert().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer odbridge"):
        create_store_engine(store_url)
    with store.connect() as connection:
        versions = sorted(connection.execute(schema_version.select()).scalars())
    assert versions == [SCHEMA_VERSION, SCHEMA_VERSION + 1]


def test_reopening_keeps_the_data_and_records_the_version_once(store_url: str) -> None:
    from sqlalchemy import select

    from odbridge.store.audit import entries, record

    first = create_store_engine(store_url)
    record(first, username="ann", action="view", what="test", rows=1, practice="main")
    first.dispose()
    for _ in range(2):
        engine = create_store_engine(store_url)
        with engine.connect() as connection:
            versions = list(connection.execute(select(schema_version.c.version)).scalars())
        assert versions == [SCHEMA_VERSION]
        assert [e.username for e in entries(engine)] == ["ann"]
        engine.dispose()


def test_a_version_1_store_gains_the_visit_tables(store_url: str) -> None:
    from sqlalchemy import create_engine, inspect, select

    from odbridge.store.schema import patients
    from odbridge.store.schema_visits import VISIT_TABLES

    old = create_engine(store_url)
    with old.begin() as connection:
        patients.create(connection)
        schema_version.create(connection)
        connection.execute(schema_version.insert().values(version=1))
    old.dispose()
    engine = create_store_engine(store_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in VISIT_TABLES} <= tables
        with engine.connect() as connection:
            versions = sorted(connection.execute(select(schema_version.c.version)).scalars())
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    finally:
        engine.dispose()


def test_a_version_2_store_gains_the_sync_columns_and_keeps_its_runs(store_url: str) -> None:
    from sqlalchemy import inspect, select, text

    old = create_store_engine(store_url)
    with old.begin() as connection:  # make it look like a store written by schema 2
        for table, column in (
            ("sync_state", "full_last_key"),
            ("sync_runs", "rows_confirmed"),
            ("sync_runs", "rows_quarantined"),
        ):
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        connection.execute(text("DROP TABLE quarantine"))
        connection.execute(schema_version.delete())
        connection.execute(schema_version.insert().values(version=2))
        connection.execute(
            text(
                "INSERT INTO sync_runs (practice, resource, mode, started_at, outcome, pages, "
                "rows_received, rows_inserted, rows_updated, rows_missing, requests, throttled, "
                "retries) VALUES ('main', 'patients', 'full', '2026-01-01 00:00:00', 'ok', "
                "1, 5, 5, 0, 0, 1, 0, 0)"
            )
        )
    old.dispose()
    engine = create_store_engine(store_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("sync_runs")}
        assert {"rows_confirmed", "rows_quarantined"} <= columns
        assert "full_last_key" in {c["name"] for c in inspect(engine).get_columns("sync_state")}
        assert "quarantine" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT rows_inserted, rows_confirmed FROM sync_runs"))
            assert kept.all() == [(5, 0)]
            versions = sorted(connection.execute(select(schema_version.c.version)).scalars())
        assert versions[-1] == SCHEMA_VERSION
    finally:
        engine.dispose()


def test_a_version_3_store_gets_the_covering_visit_indexes(store_url: str) -> None:
    from sqlalchemy import inspect, text

    old = create_store_engine(store_url)
    with old.begin() as connection:  # the narrow index of schema 2
        connection.execute(text("DROP INDEX ix_appointments_patient"))
        connection.execute(
            text("CREATE INDEX ix_appointments_patient ON appointments (practice, pat_num)")
        )
        connection.execute(schema_version.delete())
        connection.execute(schema_version.insert().values(version=3))
    old.dispose()
    engine = create_store_engine(store_url)
    try:
        found = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("appointments")}
        assert found["ix_appointments_patient"] == [
            "practice",
            "pat_num",
            "apt_status",
            "apt_date_time",
            "missing_since",
        ]
    finally:
        engine.dispose()


def test_a_version_5_store_gets_the_covering_kpi_indexes(store_url: str) -> None:
    from sqlalchemy import inspect, text

    old = create_store_engine(store_url)
    with old.begin() as connection:  # the narrower indexes of schema 5
        connection.execute(text("DROP INDEX ix_recalls_patient"))
        connection.execute(text("CREATE INDEX ix_recalls_patient ON recalls (practice, pat_num)"))
        connection.execute(schema_version.delete())
        connection.execute(schema_version.insert().values(version=5))
    old.dispose()
    engine = create_store_engine(store_url)
    try:
        recalls = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("recalls")}
        assert recalls["ix_recalls_patient"][:4] == [
            "practice",
            "pat_num",
            "date_due",
            "date_scheduled",
        ]
        procedures = {
            i["name"]: i["column_names"] for i in inspect(engine).get_indexes("procedure_logs")
        }
        assert procedures["ix_procedures_status_date"][-2:] == ["apt_num", "pat_num"]
    finally:
        engine.dispose()
