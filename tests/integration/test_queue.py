"""The sync queue (Procrastinate on the PostgreSQL store): `sync --queue` defers a job per
practice, once; `odbridge worker` (a real process) syncs them; `status` shows the queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.store.db import create_store_engine
from odbridge.store.schema import patients, sync_runs
from tests.helpers import DEV_KEY, SimulatorFactory

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


def write_config(path: Path, base_url: str, count: int) -> None:
    tables = [
        f'[practices.p{i}]\ndeveloper_key = "{DEV_KEY}"\ncustomer_key = "KEY-{i}"\n'
        f'base_url = "{base_url}"\nmode = "remote"\nrate_interval = 0\n'
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
    finally:
        store.dispose()
    status = runner.invoke(app, ["status", "--db", store_url], env=env)
    assert "Sync queue: 0 waiting, 0 running, 0 failed (3 done)" in one_line(status.output)


def test_the_queue_refuses_a_sqlite_store(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = CliRunner().invoke(app, ["worker", "--until-empty", "--db", db])
    assert result.exit_code == 2
    assert "The queue needs a PostgreSQL store" in one_line(result.output)
