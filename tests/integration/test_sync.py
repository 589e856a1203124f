"""Sync against the simulator over real HTTP, into SQLite and the real PostgreSQL server."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from odbridge.api.models import Patient
from odbridge.simulator.generate import generate_practice
from odbridge.store.schema import patients, sync_runs, sync_state
from odbridge.sync.engine import Progress, ResourceSync
from odbridge.sync.resources import PATIENTS
from odbridge.sync.writer import RowWriter
from tests.helpers import (
    SimulatorFactory,
    client_for,
    index_names,
    source_rows,
    store_rows,
    synced_once,
)

pytestmark = pytest.mark.integration


def test_full_sync_of_5000_equals_the_source_field_by_field(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=5000)
    declared = index_names(store)
    with client_for(sim) as client:
        summary = ResourceSync(store, client, "main").run()
    assert (summary.mode, summary.outcome) == ("full", "ok")
    assert summary.progress.inserted == 5000
    assert summary.requests == 51  # 50 full pages and the empty one that ends the list
    assert store_rows(store, "main") == source_rows(sim)
    # a first load builds the indexes at its end (SQLite): every one is there after it
    assert index_names(store) == declared


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_postgresql_plans_each_pages_look_up_with_its_keys(store: Engine) -> None:
    # psycopg prepares a statement run 5 times; PostgreSQL could then keep one generic plan,
    # made while a first load's table was empty: each page's look-up of its stored rows
    # scanned the whole practice (100,000 patients: 20 s instead of 10, slower every page)
    writer = RowWriter(store, "main", PATIENTS)
    records = generate_practice(2000, 1).records()
    rows = [PATIENTS.form.from_model(Patient.from_api(record)) for record in records]
    now = datetime(2026, 1, 1)
    with store.connect() as connection:  # one session, a commit a page, as a sync
        for start in range(0, len(rows), 100):
            writer.upsert(connection, rows[start : start + 100], now, seen_pass=1)
            connection.commit()
        look_ups = connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ("%ANY(%",),
        ).all()
    assert look_ups  # prepared, as psycopg does
    assert [(generic, custom > 10) for generic, custom in look_ups] == [(0, True)]
    with store.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(patients)).scalar()
    assert stored == 2000


def test_incremental_costs_pages_of_changes_and_converges(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=3000)
    with synced_once(sim, store) as sync:
        for changes in (0, 1, 250):
            sim.change(changes) if changes else None
            summary = sync.run()
            assert summary.mode == "incremental"
            # the overlap window re-reads what changed in the last hour: earlier changes too
            assert summary.requests <= math.ceil(summary.progress.rows / 100) + 1
        assert summary.progress.updated == 250
        assert store_rows(store, "main") == source_rows(sim)
        # the cost is the changes, not the practice size
        assert summary.requests <= math.ceil(251 / 100) + 1


def test_syncing_twice_changes_nothing(simulator_factory: SimulatorFactory, store: Engine) -> None:
    sim = simulator_factory(patients=500)
    with synced_once(sim, store) as sync:
        sim.change(40)
        sync.run()
        again = sync.run()
        full_again = sync.run("full")
    assert (again.progress.inserted, again.progress.updated) == (0, 0)
    assert again.progress.rows == 40  # re-read within the overlap window, written not at all
    assert (full_again.progress.inserted, full_again.progress.updated) == (0, 0)
    with store.connect() as connection:
        assert connection.execute(select(patients.c.pat_num)).all().__len__() == 500


def test_updates_made_while_a_sync_runs_are_caught_by_the_next(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=2000)
    touched: list[int] = []

    def meddle(progress: Progress) -> None:
        if progress.pages in (3, 12):  # edit rows already read and rows still ahead
            touched.extend(sim.change(30))

    with client_for(sim) as client:
        ResourceSync(store, client, "main", on_progress=meddle).run()
        assert store_rows(store, "main") != source_rows(sim)
        ResourceSync(store, client, "main").run()
    assert len(touched) == 60
    assert store_rows(store, "main") == source_rows(sim)


def test_practice_events_merge_delete_new_member(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=300)
    with synced_once(sim, store) as sync:
        sim.event("merge", {"from": 20, "into": 21})
        sim.event("delete", {"PatNum": 22})
        child = sim.event("family-member", {"Guarantor": 1})
        summary = sync.run()
        sync.run("reconcile")  # Simple stops listing a Deleted patient: reconcile asks for it
    rows = store_rows(store, "main")
    assert rows[20]["pat_status"] == "Archived"
    assert rows[22]["pat_status"] == "Deleted"
    assert rows[child["PatNum"]]["guarantor"] == 1
    assert summary.progress.inserted == 1
    assert rows == source_rows(sim)


def test_reconcile_marks_rows_the_source_no_longer_has(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=300)
    with synced_once(sim, store) as sync:
        sim.event("purge", {"PatNum": 50})  # gone outright: the single GET answers 404
        first = sync.run()
        third = sync.run("reconcile")
    assert [first.mode, third.mode] == ["incremental", "reconcile"]
    assert third.progress.missing == 1
    assert third.progress.confirmed == 0
    everything = store_rows(store, "main", include_missing=True)
    assert 50 in everything  # kept, never deleted
    assert 50 not in store_rows(store, "main")
    assert store_rows(store, "main") == source_rows(sim)


def test_cursor_comes_from_the_server_clock_minus_the_overlap(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=150)
    with client_for(sim) as client:
        server_time = client.patients.list(limit=1).items[0].server_date_time
        summary = ResourceSync(store, client, "main", overlap=timedelta(hours=2)).run()
    assert server_time is not None
    assert summary.cursor is not None
    expected = server_time - timedelta(hours=2)
    assert abs((expected - datetime.fromisoformat(summary.cursor)).total_seconds()) <= 2
    with store.connect() as connection:
        state = connection.execute(select(sync_state)).mappings().one()
        run = connection.execute(select(sync_runs)).mappings().one()
    assert state["cursor"] == summary.cursor
    assert state["full_offset"] is None
    assert (run["mode"], run["outcome"], run["pages"], run["rows_inserted"]) == (
        "full",
        "ok",
        2,
        150,
    )
    assert run["requests"] == 2  # 100 rows, then a short page of 50 ends the list


def test_a_failed_run_is_logged_with_its_error_and_the_next_resumes(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=800)

    def break_it(progress: Progress) -> None:
        if progress.pages == 4:
            sim.set_faults({"econnector": 1.0})

    with client_for(sim) as client:
        failed = ResourceSync(
            store, client, "main", on_progress=break_it, outage_waits=(0.01, 0.01)
        ).run()
        sim.set_faults({})
        resumed = ResourceSync(store, client, "main").run()
    assert failed.outcome == "failed"
    assert failed.error is not None
    assert "eConnector" in failed.error
    assert resumed.mode == "full"
    # the rows of the first pages were kept; it resumed after them, reading each row once
    assert failed.progress.rows == 397  # 100, then 99 new rows per page (one-row overlap)
    assert resumed.progress.rows == 800 - failed.progress.rows
    assert store_rows(store, "main") == source_rows(sim)
