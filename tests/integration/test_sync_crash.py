"""Crash safety: `odbridge sync` killed with SIGKILL at random points, then resumed.

The simulator has faults switched on and patients changing between kills; at the end the
store must equal the source exactly: no duplicates, no lost rows.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from odbridge.store.db import create_store_engine
from odbridge.store.schema import patients, sync_runs
from tests.helpers import (
    CUST_KEY,
    DEV_KEY,
    SimulatorFactory,
    index_names,
    source_rows,
    store_rows,
    wait_for,
)

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))
KILLS = 10
FAULTS = {
    "error500": 0.04,
    "reset": 0.03,
    "truncated": 0.03,
    "malformed": 0.03,
    "econnector": 0.01,
    "slow": 0.03,
    "slow_seconds": 0.05,
    "seed": 3,
}


def last_run_id(url: str) -> int:
    """The newest run's id (0 before the first)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.max(sync_runs.c.id))).scalar_one() or 0
    finally:
        engine.dispose()


def pages_of_runs_after(url: str, run_id: int) -> int:
    """Pages committed by runs newer than ``run_id`` (read beside the running sync)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = select(func.max(sync_runs.c.pages)).where(sync_runs.c.id > run_id)
            return connection.execute(query).scalar_one() or 0
    finally:
        engine.dispose()


def reached(process: subprocess.Popen[bytes], url: str, after: int, pages: int) -> bool:
    """The run of ``process`` committed ``pages`` pages (or the process already ended)."""
    return process.poll() is not None or pages_of_runs_after(url, after) >= pages


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    simulator_factory: SimulatorFactory, store_url: str, tmp_path: Path
) -> None:
    sim = simulator_factory(patients=3000, rate_interval=0.04)
    sim.set_faults(FAULTS)
    env = {
        **os.environ,
        "ODBRIDGE_DEVELOPER_KEY": DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": CUST_KEY,
        "ODBRIDGE_BASE_URL": sim.base_url,
        "ODBRIDGE_MODE": "remote",
        "ODBRIDGE_RATE_INTERVAL": "0.04",
        "ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"),
    }
    fresh = create_store_engine(store_url)
    declared = index_names(fresh)  # the schema's indexes, before any row
    fresh.dispose()
    command = [ODBRIDGE, "sync", "--db", store_url]
    rng = random.Random(20261125)
    killed = attempts = last = 0
    while killed < KILLS and attempts < 2 * KILLS:
        attempts += 1
        # --full: each run pages through everything (resuming an unfinished pass), so
        # there is always a long run to kill; a full pass takes ~1.2 s plus ~0.7 s start-up.
        process = subprocess.Popen(
            [*command, "--full"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # the crash point: a random moment within the page after a random number of pages
        # of this run were committed (pages are ~40 ms apart at this pace)
        pages = rng.randint(1, 5)
        wait_for(partial(reached, process, store_url, last, pages), "a page of the run", 60)
        time.sleep(rng.uniform(0, 0.05))  # not waiting for anything: choosing the kill point
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=30)
        last = last_run_id(store_url)
        sim.change(rng.randint(0, 25))
    assert killed == KILLS, "the syncs finished before they could be killed"

    for _attempt in range(10):  # faults stay on: a run may fail (eConnector) and be re-run
        if subprocess.run(command, env=env, capture_output=True, timeout=120).returncode == 0:
            break
    else:
        pytest.fail("no sync completed")
    sim.set_faults({})
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)

    engine = create_store_engine(store_url)
    try:
        with engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(patients)).scalar_one()
            distinct = connection.execute(
                select(func.count(func.distinct(patients.c.pat_num)))
            ).scalar_one()
            runs = connection.execute(
                select(sync_runs.c.outcome, sync_runs.c.pages, sync_runs.c.requests).order_by(
                    sync_runs.c.id
                )
            ).all()
            outcomes = [run.outcome for run in runs]
        assert total == distinct == 3000
        assert store_rows(engine, "default") == source_rows(sim)
        # a run killed after it began is closed as interrupted by the next run (one killed
        # during start-up has no entry); none is left looking as if it were still running
        assert outcomes.count("interrupted") >= 1
        assert "running" not in outcomes
        assert outcomes[-1] == "ok"
        # a killed run's log says what it did: each page it committed took a request at least
        killed_runs = [run for run in runs if run.outcome == "interrupted" and run.pages]
        assert killed_runs
        assert all(run.requests >= run.pages for run in killed_runs), killed_runs
        # kills during the first load (which builds the indexes at its end on SQLite) left
        # no index missing once a pass completed
        assert index_names(engine) == declared
    finally:
        engine.dispose()
