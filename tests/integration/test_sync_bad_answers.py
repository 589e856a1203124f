"""Answers a practice's server really gives: a row our models reject, the documented 404
from patients/Simple, a 400 for office network trouble. Real HTTP against the simulator."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from odbridge.api.errors import NotFoundError, OfficeNetworkError
from odbridge.api.retry import RetryPolicy
from odbridge.cli import app
from odbridge.simulator.server import SimulatorServer
from odbridge.store.quarantine import quarantine_count, quarantined_rows
from odbridge.store.runlog import RunMode, RunOutcome, practice_statuses
from odbridge.store.schema import patients, sync_runs
from odbridge.sync.engine import ResourceSync
from tests.helpers import SimulatorFactory, client_for, expected_row, source_rows, store_rows

pytestmark = pytest.mark.integration

BAD_BIRTHDATE = "1985-13-45"


def rows_except(sim: SimulatorServer, bad: int) -> dict[int, dict[str, object]]:
    """The source's rows as store rows, but for the one our models reject."""
    good = [r for r in sim.all_patients() if r["PatNum"] != bad]
    return {row["pat_num"]: row for row in map(expected_row, good)}


def test_a_bad_row_is_held_the_rest_lands_and_it_is_retried(
    simulator_factory: SimulatorFactory, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sim = simulator_factory(patients=250)
    caplog.set_level(logging.DEBUG)
    sim.event("bad-row", {"PatNum": 130, "field": "Birthdate", "value": BAD_BIRTHDATE})
    with client_for(sim) as client:
        sync = ResourceSync(store, client, "main")
        first = sync.run()
        assert first.outcome == RunOutcome.OK
        assert first.progress.quarantined == 1
        rows = store_rows(store, "main")
        assert 130 not in rows
        assert rows == rows_except(sim, 130)  # every other row of that page and the next landed
        (held,) = quarantined_rows(store)
        assert (held.practice, held.resource, held.key, held.field) == (
            "main",
            "patients",
            130,
            "Birthdate",
        )
        assert "date" in held.problem
        assert BAD_BIRTHDATE not in held.problem
        assert quarantine_count(store, "main") == 1
        (status,) = practice_statuses(store)
        assert status.quarantined == 1

        again = sync.run()  # still bad: still held, tried again
        assert quarantine_count(store) == 1
        assert quarantined_rows(store)[0].attempts >= 2
        assert again.outcome == RunOutcome.OK

        # the office fixes the birthdate: the next run takes the row and releases it
        sim.event("bad-row", {"PatNum": 130, "field": "Birthdate", "value": "1985-12-25"})
        fixed = sync.run()
    assert fixed.progress.released == 1
    assert quarantine_count(store) == 0
    assert store_rows(store, "main") == source_rows(sim)
    with store.connect() as connection:
        logged = connection.execute(select(sync_runs.c.rows_quarantined)).scalars().all()
    assert logged[0] == 1
    assert BAD_BIRTHDATE not in caplog.text  # the value never reaches the log


def test_a_quarantined_patient_is_not_taken_for_deleted(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=120)
    with client_for(sim) as client:
        sync = ResourceSync(store, client, "main")
        sync.run()
        sim.event("bad-row", {"PatNum": 40, "field": "EmployerNum", "value": -5.5})
        summary = sync.run(RunMode.RECONCILE)
    assert summary.progress.quarantined == 1
    assert summary.progress.missing == 0
    with store.connect() as connection:
        missing = connection.execute(
            select(patients.c.pat_num).where(patients.c.missing_since.is_not(None))
        ).all()
    assert missing == []
    assert 40 in store_rows(store, "main")  # the last good copy is kept
    assert store_rows(store, "main") == rows_except(sim, 40) | {40: store_rows(store, "main")[40]}


def test_status_shows_the_quarantine(
    simulator_factory: SimulatorFactory, store_url: str, store: Engine
) -> None:
    sim = simulator_factory(patients=60)
    sim.event("bad-row", {"PatNum": 7})
    with client_for(sim) as client:
        ResourceSync(store, client, "main").run()
    result = CliRunner().invoke(app, ["status", "--db", store_url])
    assert result.exit_code == 0, result.output
    assert "1 rows held in quarantine" in result.output
    assert BAD_BIRTHDATE not in result.output


def test_simples_documented_404_means_no_rows_after_the_first_page(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(patients=30)
    sim.set_faults({"notfound404": 1.0})
    with client_for(sim) as client:
        later = client.patients.list(offset=100, limit=100)
        changes = client.patients.list(changed_since="2020-01-01 00:00:00")
        with pytest.raises(NotFoundError) as first_page:
            client.patients.list()
    assert (later.received, later.note) == (0, "No patients were found.")
    assert changes.items == []
    assert "filter" in first_page.value.hint  # says what to check; not a crash


def test_a_404_on_the_first_page_fails_the_run_cleanly(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=30)
    sim.set_faults({"notfound404": 1.0})
    with client_for(sim) as client:
        summary = ResourceSync(store, client, "main").run()
    assert summary.outcome == RunOutcome.FAILED
    assert summary.error is not None
    assert "No patients were found." in summary.error
    assert store_rows(store, "main", include_missing=True) == {}


def test_office_network_400s_are_retried_as_passing_trouble(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=40)
    sim.set_faults({"network400": 1.0})
    with client_for(sim) as client, pytest.raises(OfficeNetworkError) as caught:
        client.patients.list()
    assert caught.value.attempts == 2  # retried, not taken for a bad request
    assert "office" in caught.value.hint
    sim.set_faults({"network400": 0.3, "seed": 5})
    with client_for(sim, retry=RetryPolicy(max_attempts=4, initial=0.01, jitter=0)) as client:
        summary = ResourceSync(store, client, "main", outage_waits=(0.01,) * 10).run()
    assert summary.outcome == RunOutcome.OK
    assert store_rows(store, "main") == source_rows(sim)
