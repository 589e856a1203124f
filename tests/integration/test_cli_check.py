"""`odbridge check` and `odbridge patients` as a user runs them, against the simulator."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from odbridge.cli import app
from odbridge.store import audit
from odbridge.store.db import create_store_engine
from tests.helpers import CUST_KEY, DEV_KEY, SimulatorFactory

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


def cli_env(base_url: str, tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "ODBRIDGE_DEVELOPER_KEY": DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": CUST_KEY,
        "ODBRIDGE_BASE_URL": base_url,
        "ODBRIDGE_TIER": "full",
        "ODBRIDGE_RATE_INTERVAL": "0.05",
        "ODBRIDGE_DB": f"sqlite:///{tmp_path / 'audit.sqlite'}",
        "COLUMNS": "250",
        **env,
    }


def check(base_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``odbridge check`` in a process of its own: it measures the client's pace against the
    simulator's throttle, which sharing this interpreter (and its GIL) would skew."""
    return subprocess.run(
        [ODBRIDGE, "check"],
        env={**os.environ, **cli_env(base_url, tmp_path, **env)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def run(args: list[str], base_url: str, tmp_path: Path) -> Result:
    """``odbridge ARGS`` in this process."""
    return CliRunner().invoke(app, args, env=cli_env(base_url, tmp_path))


@pytest.mark.exclusive  # its rate check asserts 0 x 429 at 0.05 s: no other test beside it
def test_check_passes_with_good_keys(simulator_factory: SimulatorFactory, tmp_path: Path) -> None:
    sim = simulator_factory(rate_interval=0.05)
    result = check(sim.base_url, tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("✓") == 6
    assert DEV_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("setup", "env", "expected"),
    [
        ("wrong-key", {"ODBRIDGE_CUSTOMER_KEY": "not-the-key"}, "Setup > Advanced Setup > API"),
        ("stopped", {}, "Connection refused"),
        ("econnector", {}, "eConnector"),
    ],
)
def test_check_fails_with_the_fix(
    simulator_factory: SimulatorFactory,
    tmp_path: Path,
    setup: str,
    env: dict[str, str],
    expected: str,
) -> None:
    sim = simulator_factory(rate_interval=0.05)
    base_url = sim.base_url
    if setup == "stopped":
        sim.stop()
    if setup == "econnector":
        sim.set_faults({"econnector": 1.0})
    result = check(base_url, tmp_path, **env)
    assert result.returncode == 1
    assert "✗" in result.stdout
    assert expected in result.stdout
    assert "not-the-key" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_patients_list_all_streams_every_patient_as_csv_and_json(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    sim = simulator_factory(patients=230, rate_interval=0.01)
    as_csv = run(["patients", "list", "--all", "--format", "csv"], sim.base_url, tmp_path)
    assert as_csv.exit_code == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [int(r["PatNum"]) for r in rows] == list(range(1, 231))
    as_json = run(["patients", "list", "--format", "json", "--limit", "5"], sim.base_url, tmp_path)
    assert [r["PatNum"] for r in json.loads(as_json.stdout)] == [1, 2, 3, 4, 5]
    one = run(["patients", "get", "7", "--format", "json"], sim.base_url, tmp_path)
    assert json.loads(one.stdout)["PatNum"] == 7
    missing = run(["patients", "get", "99999"], sim.base_url, tmp_path)
    assert missing.exit_code == 1
    assert "not found" in missing.stderr.lower()
    # each read of patient data is in the audit log, with its row count
    engine = create_store_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    logged = [(e.action, e.what, e.rows) for e in reversed(audit.entries(engine))]
    assert logged == [
        ("view", "cli patients list", 230),
        ("view", "cli patients list", 5),
        ("view", "cli patients get", 1),
    ]
