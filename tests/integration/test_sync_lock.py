"""One sync per practice at a time: a second `odbridge sync` exits (or waits) and names the
holder; the lock is a real advisory lock (PostgreSQL) or lock file (SQLite)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from odbridge.config import PracticeProfile
from odbridge.store.db import create_store_engine
from odbridge.store.schema import patients, sync_runs
from odbridge.sync.lock import BUSY_EXIT_CODE, PracticeBusy, practice_lock
from odbridge.sync.runner import sync_practices
from odbridge.sync.visits import VisitOptions
from tests.helpers import (
    CUST_KEY,
    DEV_KEY,
    SimulatorFactory,
    lock_holders,
    resources_run,
    source_rows,
)

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


def cli_env(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "ODBRIDGE_DEVELOPER_KEY": DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": CUST_KEY,
        "ODBRIDGE_BASE_URL": base_url,
        "ODBRIDGE_MODE": "remote",
        "ODBRIDGE_RATE_INTERVAL": "0",
        "COLUMNS": "200",
    }


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_second_sync_of_a_busy_practice_exits_75_naming_the_holder(
    simulator_factory: SimulatorFactory, store_url: str
) -> None:
    sim = simulator_factory(patients=50)
    store = create_store_engine(store_url)
    try:
        with practice_lock(store, "default"):
            result = subprocess.run(
                [ODBRIDGE, "sync", "--db", store_url],
                env=cli_env(sim.base_url),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == BUSY_EXIT_CODE, result.stdout + result.stderr
            message = " ".join(result.stderr.split())
            assert "Practice 'default' is already being synced" in message
            assert f"process {os.getpid()} on" in message  # the holder: this test's process
            assert count(store, sync_runs) == 0  # no run started, none marked interrupted
            assert count(store, patients) == 0
        # once the lock is free, the same command syncs
        result = subprocess.run(
            [ODBRIDGE, "sync", "--db", store_url],
            env=cli_env(sim.base_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert count(store, patients) == len(source_rows(sim))
    finally:
        store.dispose()


def test_sync_wait_waits_for_the_holder_then_runs(
    simulator_factory: SimulatorFactory, store_url: str
) -> None:
    sim = simulator_factory(patients=50)
    store = create_store_engine(store_url)
    try:
        with practice_lock(store, "default"):
            process = subprocess.Popen(
                [ODBRIDGE, "sync", "--wait", "--db", store_url],
                env=cli_env(sim.base_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert process.stdout is not None
            lines = []
            for line in process.stdout:  # blocks until the waiting line (pytest-timeout caps it)
                lines.append(line)
                if "waiting for it to finish" in line:
                    break
            assert f"process {os.getpid()} on" in lines[-1], lines
            assert process.poll() is None  # still waiting while the lock is held
            assert count(store, sync_runs) == 0
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, "".join(lines) + output
        assert count(store, patients) == len(source_rows(sim))
    finally:
        store.dispose()


def test_sync_all_skips_only_the_busy_practice(
    simulator_factory: SimulatorFactory, store_url: str
) -> None:
    sim = simulator_factory(patients=40, practices=2)
    profiles = [
        PracticeProfile(
            name=f"p{i}",
            developer_key=SecretStr(DEV_KEY),
            customer_key=SecretStr(f"{CUST_KEY}-{i}"),
            base_url=sim.base_url,
            rate_interval=0,
        )
        for i in (1, 2)
    ]
    store = create_store_engine(store_url)
    other = create_store_engine(store_url)  # the holder: another engine, as another process
    busy: list[PracticeBusy] = []
    try:
        with practice_lock(other, "p1"):
            summaries = sync_practices(store, profiles, on_busy=busy.append)
        assert [s.practice for s in summaries] == ["p2"]
        assert [s.outcome for s in summaries] == ["ok"]
        assert [b.practice for b in busy] == ["p1"]
        with store.connect() as connection:
            practices = connection.execute(select(patients.c.practice).distinct()).scalars()
            assert set(practices) == {"p2"}
        with pytest.raises(PracticeBusy, match="'p2'"), practice_lock(other, "p2"):
            sync_practices(store, profiles[1:])
    finally:
        store.dispose()
        other.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_sync_visits_holds_the_sync_lock_from_patients_to_the_last_visit_resource(
    simulator_factory: SimulatorFactory, store_url: str
) -> None:
    """`odbridge sync --visits` (not queued): no other sync can take the practice between
    the patients and the visits: one backend holds the advisory lock the whole time."""
    sim = simulator_factory(patients=100, rate_interval=0.03)
    env = {**cli_env(sim.base_url), "ODBRIDGE_RATE_INTERVAL": "0.03", "ODBRIDGE_TIER": "full"}
    store = create_store_engine(store_url)
    seen: list[tuple[frozenset[int], tuple[str, ...]]] = []
    try:
        process = subprocess.Popen(
            [ODBRIDGE, "sync", "--visits", "--history-years", "1", "--db", store_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            while process.poll() is None:  # watch the lock's holder for the whole command
                runs = tuple(resources_run(store))
                seen.append((frozenset(lock_holders(store, "default")), runs))
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.02)  # the poll interval (the GIL is shared)
        finally:
            output = process.communicate(timeout=120)[0]
        assert process.returncode == 0, output
        assert "first visits sync, 1 years of appointments" in output
        finished = resources_run(store)
        with store.connect() as connection:
            outcomes = set(connection.execute(select(sync_runs.c.outcome)).scalars())
    finally:
        store.dispose()
    assert finished[0] == "patients"
    assert {"appointments", "procedure_logs", "deleted_appointments"} <= set(finished[1:])
    assert outcomes == {"ok"}
    holders = set().union(*(pids for pids, _ in seen))
    assert len(holders) == 1, f"the lock changed hands during the sync: {holders}"
    during_visits = [
        pids for pids, done in seen if len(done) > 1 and "deleted_appointments" not in done
    ]
    assert during_visits, "the lock was observed while the visits synced"
    assert all(pids == holders for pids in during_visits)


def test_a_sync_tried_between_the_patients_and_the_visits_is_refused(
    simulator_factory: SimulatorFactory, store_url: str
) -> None:
    """The path `odbridge sync --visits` runs (sync_practices with visits): when the patients
    are in and the visits about to start, another sync of the practice cannot start."""
    sim = simulator_factory(patients=30)
    profile = PracticeProfile(
        name="default",
        developer_key=SecretStr(DEV_KEY),
        customer_key=SecretStr(CUST_KEY),
        base_url=sim.base_url,
        rate_interval=0,
        tier="full",
    )
    store = create_store_engine(store_url)
    other = create_store_engine(store_url)  # the second sync: another engine, as another process
    refused: list[PracticeBusy] = []

    def second_sync(client: object) -> None:
        with pytest.raises(PracticeBusy) as caught, practice_lock(other, "default"):
            pass
        refused.append(caught.value)

    try:
        summaries = sync_practices(
            store,
            [profile],
            visits=VisitOptions(history_years=1),
            before_visits=second_sync,
        )
    finally:
        store.dispose()
        other.dispose()
    assert len(refused) == 1
    assert f"process {os.getpid()} on" in str(refused[0])  # the holder: the running sync
    resources = [s.progress.resource for s in summaries]
    assert resources[0] == "patients"
    assert "appointments" in resources[1:]
    assert {s.outcome for s in summaries} == {"ok"}
