"""The sync queue (Procrastinate on the PostgreSQL store): `sync --queue` defers a job per
practice, once; `odbridge worker` (a real process) syncs them; `status` shows the queue."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select, text
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.simulator.server import SimulatorServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema import patients, sync_runs
from odbridge.sync.lock import PracticeBusy, practice_lock
from tests.helpers import DEV_KEY, SimulatorFactory, lock_holders, resources_run, wait_for

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


def write_config(path: Path, base_url: str, count: int, rate_interval: float = 0) -> None:
    tables = [
        f'[practices.p{i}]\ndeveloper_key = "{DEV_KEY}"\ncustomer_key = "KEY-{i}"\n'
        f'base_url = "{base_url}"\nmode = "remote"\nrate_interval = {rate_interval}\n'
        for i in range(1, count + 1)
    ]
    path.write_text("\n".join(tables))
    path.chmod(0o600)


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_queued_practices_are_each_synced_once_by_a_worker(
    simulator_factory: SimulatorFactory, store_url: str, tmp_path: Path
) -> None:
    sim = simulator_factory(patients=30, practices=3, customer_key="KEY")
    config = tmp_path / "config.toml"
    write_config(config, sim.base_url, 3)
    env = {**os.environ, "ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
    runner = CliRunner()

    first = runner.invoke(app, ["sync", "--all", "--queue", "--db", store_url], env=env)
    assert first.exit_code == 0, first.output
    assert all(f"p{i}: queued (job" in first.output for i in (1, 2, 3)), first.output
    again = runner.invoke(app, ["sync", "--practice", "p2", "--queue", "--db", store_url], env=env)
    assert again.exit_code == 0, again.output
    assert "p2: already queued" in again.output
    status = runner.invoke(app, ["status", "--db", store_url], env=env)
    assert "Sync queue: 3 waiting, 0 running, 0 failed" in one_line(status.output), status.output

    worker = subprocess.run(
        [ODBRIDGE, "worker", "--until-empty", "--concurrency", "2", "--db", store_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr

    store = create_store_engine(store_url)
    try:
        with store.connect() as connection:
            for i in (1, 2, 3):
                stored = connection.execute(
                    select(patients.c.pat_num).where(patients.c.practice == f"p{i}")
                ).scalars()
                assert set(stored) == {p["PatNum"] for p in sim.all_patients(i)}
            runs = connection.execute(
                select(sync_runs.c.practice, func.count())
                .group_by(sync_runs.c.practice)
                .order_by(sync_runs.c.practice)
            ).all()
            assert [tuple(r) for r in runs] == [("p1", 1), ("p2", 1), ("p3", 1)]
            # each job ran once: jobs started together on a new store do not race to create it
            attempts = connection.execute(
                text("SELECT attempts FROM procrastinate_jobs WHERE queue_name = 'sync'")
            ).scalars()
            assert list(attempts) == [1, 1, 1]
    finally:
        store.dispose()
    status = runner.invoke(app, ["status", "--db", store_url], env=env)
    assert "Sync queue: 0 waiting, 0 running, 0 failed (3 done)" in one_line(status.output)
    assert "Workers: none running" in one_line(status.output)  # it unregistered on leaving
    # queued from a timer (no terminal, INFO log): one line a practice, no queue chatter
    timer = subprocess.run(
        [ODBRIDGE, "sync", "--practice", "p1", "--queue", "--db", store_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert timer.returncode == 0, timer.stdout + timer.stderr
    said = timer.stdout + timer.stderr
    assert said.startswith("p1: queued (job "), said
    assert "procrastinate" not in said, said


def test_the_queue_refuses_a_sqlite_store(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = CliRunner().invoke(app, ["worker", "--until-empty", "--db", db])
    assert result.exit_code == 2
    assert "The queue needs a PostgreSQL store" in one_line(result.output)


def committed(store: Engine) -> int:
    with store.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(patients)).scalar_one())


def one_queued_practice(
    simulator_factory: SimulatorFactory, store_url: str, tmp_path: Path
) -> tuple[SimulatorServer, dict[str, str]]:
    """A simulator of 2,000 patients at 0.1 s a request (20 pages, 2 s), its practice p1
    queued: (the simulator, the environment naming its config). Two practices, so the
    keys are KEY-1, KEY-2 (one practice serves KEY alone); the config has p1 only."""
    sim = simulator_factory(patients=2000, practices=2, customer_key="KEY", rate_interval=0.1)
    config = tmp_path / "config.toml"
    write_config(config, sim.base_url, 1, rate_interval=0.1)
    env = {**os.environ, "ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
    queued = CliRunner().invoke(app, ["sync", "--all", "--queue", "--db", store_url], env=env)
    assert queued.exit_code == 0, queued.output
    return sim, env


def stored_keys(connection: Connection) -> list[int]:
    """Every stored patient's PatNum, sorted."""
    return sorted(connection.execute(select(patients.c.pat_num)).scalars())


def retry_due(store: Engine) -> bool:
    """The sync job waiting for a retry may start now (its scheduled time has come)."""
    with store.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT scheduled_at <= now() FROM procrastinate_jobs "
                    "WHERE queue_name = 'sync' AND status = 'todo'"
                )
            ).scalar_one()
        )


def lock_free(store: Engine, practice: str) -> bool:
    try:
        with practice_lock(store, practice):
            return True
    except PracticeBusy:
        return False


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_a_job_of_a_killed_worker_is_retried_and_loses_nothing(
    simulator_factory: SimulatorFactory, store_url: str, tmp_path: Path
) -> None:
    sim, env = one_queued_practice(simulator_factory, store_url, tmp_path)
    store = create_store_engine(store_url)
    try:
        first = subprocess.Popen(
            [ODBRIDGE, "worker", "--db", store_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: committed(store), "a committed page")
            status = CliRunner().invoke(app, ["status", "--db", store_url], env=env)
            assert "Sync queue: 0 waiting, 1 running" in one_line(status.output)
            assert "Workers: 1 alive, 0 silent" in one_line(status.output)
            assert re.search(r"worker \d+: heartbeat \d+ s ago, running p1", status.output)
        finally:
            first.kill()  # SIGKILL mid-job: 20 pages at 0.1 s, one is in
            first.wait(timeout=30)
        assert committed(store) < 2000
        wait_for(lambda: lock_free(store, "p1"), "the killed worker's lock released")
        second = subprocess.run(
            [ODBRIDGE, "worker", "--until-empty", "--stalled-after", "0", "--db", store_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        with store.connect() as connection:
            assert stored_keys(connection) == sorted(p["PatNum"] for p in sim.all_patients(1))
            outcomes = connection.execute(
                select(sync_runs.c.outcome).order_by(sync_runs.c.id)
            ).scalars()
            assert list(outcomes) == ["interrupted", "ok"]
    finally:
        store.dispose()
    status = CliRunner().invoke(app, ["status", "--db", store_url], env=env)
    assert "Sync queue: 0 waiting, 0 running, 0 failed (1 done)" in one_line(status.output)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_a_stopped_worker_ends_its_job_after_a_page_and_the_job_is_queued_again(
    simulator_factory: SimulatorFactory, store_url: str, tmp_path: Path
) -> None:
    # systemd stops a worker with SIGTERM and kills it after TimeoutStopSec: the worker must
    # not wait for a whole first load (minutes at the Read All pace) before it exits
    sim, env = one_queued_practice(simulator_factory, store_url, tmp_path)
    store = create_store_engine(store_url)
    try:
        first = subprocess.Popen(
            [ODBRIDGE, "worker", "--db", store_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: committed(store), "a committed page")
            first.send_signal(signal.SIGTERM)
            said = first.communicate(timeout=30)[0]  # 20 pages at 0.1 s: it did not finish
        finally:
            first.kill()
        assert first.returncode == 0, said
        assert "Traceback" not in said, said
        assert 0 < committed(store) < 2000
        with store.connect() as connection:
            job = connection.execute(
                text("SELECT status, attempts FROM procrastinate_jobs WHERE queue_name = 'sync'")
            ).one()
            outcomes = list(connection.execute(select(sync_runs.c.outcome)).scalars())
        assert tuple(job) == ("todo", 1)  # queued again (a retry), not lost, not failed
        assert outcomes == ["interrupted"]
        wait_for(lambda: retry_due(store), "the retry's 4 s (the first of its backoff)", 30)
        second = subprocess.run(
            [ODBRIDGE, "worker", "--db", store_url, "--until-empty"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        with store.connect() as connection:
            assert stored_keys(connection) == sorted(p["PatNum"] for p in sim.all_patients(1))
    finally:
        store.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_a_queued_visits_job_holds_the_sync_lock_from_patients_to_the_last_visit_resource(
    simulator_factory: SimulatorFactory, store_url: str, tmp_path: Path
) -> None:
    sim = simulator_factory(patients=100, practices=2, customer_key="KEY", rate_interval=0.03)
    config = tmp_path / "config.toml"
    write_config(config, sim.base_url, 1, rate_interval=0.03)
    env = {**os.environ, "ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
    args = ["sync", "--practice", "p1", "--queue", "--visits", "--history-years", "1"]
    queued = CliRunner().invoke(app, [*args, "--db", store_url], env=env)
    assert queued.exit_code == 0, queued.output
    store = create_store_engine(store_url)
    seen: list[tuple[frozenset[int], tuple[str, ...]]] = []
    try:
        worker = subprocess.Popen(
            [ODBRIDGE, "worker", "--until-empty", "--db", store_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            while worker.poll() is None:  # watch the lock's holder for the whole job
                runs = tuple(resources_run(store))
                seen.append((frozenset(lock_holders(store, "p1")), runs))
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.wait(timeout=0.02)  # the poll interval (the GIL is shared)
        finally:
            output = worker.communicate(timeout=120)[0]
        assert worker.returncode == 0, output
        finished = resources_run(store)
        with store.connect() as connection:
            outcomes = set(connection.execute(select(sync_runs.c.outcome)).scalars())
    finally:
        store.dispose()
    assert finished[0] == "patients"
    assert {"appointments", "procedure_logs", "deleted_appointments"} <= set(finished[1:])
    assert outcomes == {"ok"}
    holders = set().union(*(pids for pids, _ in seen))
    assert len(holders) == 1, f"the lock changed hands during the job: {holders}"
    during_visits = [
        pids for pids, done in seen if len(done) > 1 and "deleted_appointments" not in done
    ]
    assert during_visits, "the lock was observed while the visits synced"
    assert all(pids == holders for pids in during_visits)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_status_names_the_practices_whose_last_job_failed_and_forgets_a_failure_made_good(
    store_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    write_config(config, "http://127.0.0.1:9/api/v1", 2)
    env = {**os.environ, "ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
    runner = CliRunner()

    def status() -> str:
        result = runner.invoke(app, ["status", "--db", store_url], env=env)
        assert result.exit_code == 0, result.output
        return one_line(result.output)

    def finish(practice: str, outcome: str) -> None:
        with store.begin() as connection:
            connection.execute(
                text(
                    "UPDATE procrastinate_jobs SET status = CAST(:outcome AS "
                    "procrastinate_job_status) WHERE args->>'practice' = :practice "
                    "AND status = 'todo'"
                ),
                {"outcome": outcome, "practice": practice},
            )

    queued = runner.invoke(app, ["sync", "--all", "--queue", "--db", store_url], env=env)
    assert queued.exit_code == 0, queued.output
    assert "Nothing synced yet: start `odbridge worker`" in status()
    store = create_store_engine(store_url)
    try:
        finish("p1", "failed")  # its retries used up
        finish("p2", "succeeded")
        assert "Sync queue: 0 waiting, 0 running, 1 failed (1 done)" in status()
        assert "Failed (their last job, after its retries; the workers' log says why): p1" in (
            status()
        )
        again = runner.invoke(
            app, ["sync", "--practice", "p1", "--queue", "--db", store_url], env=env
        )
        assert "p1: queued (job" in again.output, again.output
        finish("p1", "succeeded")  # the next job of p1 synced it
        assert "Sync queue: 0 waiting, 0 running, 0 failed (2 done)" in status()
        assert "Failed" not in status()
    finally:
        store.dispose()
