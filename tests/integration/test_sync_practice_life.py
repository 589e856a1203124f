"""What real practices do to a sync: delete patients while a pass pages through them,
delete between syncs, leave the office unreachable. Real HTTP against the simulator."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from odbridge.store.runlog import RunMode, RunOutcome, practice_statuses
from odbridge.store.schema import patients
from odbridge.sync.engine import Progress, ResourceSync
from tests.helpers import SimulatorFactory, client_for, source_rows, store_rows, synced_once

pytestmark = pytest.mark.integration


def missing_keys(store: Engine) -> set[int]:
    with store.connect() as connection:
        return set(
            connection.execute(
                select(patients.c.pat_num).where(patients.c.missing_since.is_not(None))
            ).scalars()
        )


def test_a_full_sync_while_patients_vanish_stores_every_live_patient(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=1000)
    gone: list[int] = []

    def remove_rows_already_read(progress: Progress) -> None:
        if progress.pages in (2, 5):  # rows behind the pass leave the listing: Offset shifts
            for pat_num in (progress.pages * 10, progress.pages * 10 + 1, progress.pages * 10 + 7):
                sim.event("purge", {"PatNum": pat_num})
                gone.append(pat_num)

    with client_for(sim) as client:
        summary = ResourceSync(store, client, "main", on_progress=remove_rows_already_read).run()
    assert summary.outcome == RunOutcome.OK
    assert summary.progress.drifts == 2
    live = source_rows(sim)
    stored = store_rows(store, "main")
    assert {k: stored.get(k) for k in live} == live  # no live patient skipped
    assert not missing_keys(store) & set(live)  # and none marked missing


def test_patients_deleted_mid_pass_skip_no_one_and_end_as_deleted(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    """Open Dental's own behaviour: a Deleted patient leaves Simple, every later row moves
    up one place. The simulator deletes the lowest live PatNums (rows already read)."""
    sim = simulator_factory(patients=800)
    for after in (2, 4, 6):
        sim.event("delete-later", {"after_requests": after, "count": 4})
    with client_for(sim) as client:
        sync = ResourceSync(store, client, "main")
        summary = sync.run()
        scheduled = httpx.get(f"{sim.root_url}/_simulator/events/delete-later").json()
        deleted = {n for item in scheduled for n in item["deleted"]}
        assert len(deleted) == 12
        assert summary.progress.drifts >= 1
        live = {r["PatNum"] for r in sim.live_patients()}
        stored = store_rows(store, "main")
        assert live <= set(stored)  # every live patient stored
        assert not missing_keys(store)
        reconcile = sync.run(RunMode.RECONCILE)
    assert reconcile.progress.confirmed == 12
    rows = store_rows(store, "main")
    assert {rows[n]["pat_status"] for n in deleted} == {"Deleted"}
    assert rows == source_rows(sim)


def test_deletions_between_syncs_end_as_deleted_after_the_reconcile(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=300)
    with synced_once(sim, store) as sync:
        for pat_num in (22, 23, 150):
            sim.event("delete", {"PatNum": pat_num})  # PatStatus Deleted, as Open Dental does
        sim.event("purge", {"PatNum": 60})  # gone from the database outright
        sync.run(RunMode.INCREMENTAL)
        summary = sync.run(RunMode.RECONCILE)
        again = sync.run(RunMode.RECONCILE)
    rows = store_rows(store, "main")
    assert [rows[k]["pat_status"] for k in (22, 23, 150)] == ["Deleted"] * 3
    assert missing_keys(store) == {60}  # only the patient that is really gone
    assert rows == source_rows(sim)
    assert summary.progress.missing == 1
    assert again.progress.missing == 0
    assert again.progress.confirmed == 0
    (status,) = practice_statuses(store)
    assert status.last_reconcile is not None
    assert status.reconcile_missing == 0  # what the last reconcile found (the second one)


def test_reconcile_runs_on_a_time_basis(simulator_factory: SimulatorFactory, store: Engine) -> None:
    sim = simulator_factory(patients=150)
    now = [datetime(2026, 5, 1, 8, 0, 0)]
    with client_for(sim) as client:
        sync = ResourceSync(
            store, client, "main", reconcile_every=timedelta(hours=12), clock=lambda: now[0]
        )
        modes = []
        for hours in (0, 1, 6, 13, 14, 30):
            now[0] = datetime(2026, 5, 1, 8, 0, 0) + timedelta(hours=hours)
            modes.append(sync.run().mode)
    assert modes == ["full", "incremental", "incremental", "reconcile", "incremental", "reconcile"]


def test_an_econnector_outage_is_waited_out(
    simulator_factory: SimulatorFactory, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sim = simulator_factory(patients=250)
    outage_seen = threading.Event()

    def break_it(progress: Progress) -> None:
        if progress.pages == 1:
            sim.set_faults({"econnector": 1.0})

    def office_restarts_its_econnector() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if sim.stats()["faults"].get("econnector", 0) >= 3:
                sim.set_faults({})
                outage_seen.set()
                return
            time.sleep(0.01)

    mender = threading.Thread(target=office_restarts_its_econnector)
    mender.start()
    with client_for(sim) as client:
        sync = ResourceSync(store, client, "main", on_progress=break_it, outage_waits=(0.2,) * 20)
        summary = sync.run()
    mender.join()
    assert outage_seen.is_set()
    assert summary.outcome == RunOutcome.OK
    assert store_rows(store, "main") == source_rows(sim)
    assert "eConnector is not answering" in caplog.text
    assert "Waiting" in caplog.text


def test_an_outage_that_lasts_fails_the_run_with_the_fix(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=50)
    sim.set_faults({"econnector": 1.0})
    with client_for(sim) as client:
        summary = ResourceSync(store, client, "main", outage_waits=(0.01,)).run()
    assert summary.outcome == RunOutcome.FAILED
    assert summary.error is not None
    assert "eServices" in summary.error
