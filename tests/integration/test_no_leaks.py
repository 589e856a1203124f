"""No key and no patient field in any log, error, run log or process title.

The first test runs a representative set of real ``odbridge`` commands against a real
``odbridge simulate`` process, with keys passed the safe way (environment variables),
collects everything they print (stdout, stderr, log lines), what they write to the run and
audit logs, and the command line of every process while it runs (``/proc/PID/cmdline``), then
looks for the keys and for the seeded patients' names, phones, emails and SSNs. The only
output allowed to hold patient data is the one asked for: ``patients list`` to a file.

The other tests cover the store's side: a page the database refuses fails the run with a
message that quotes no row (SQLAlchemy and PostgreSQL both like to quote rows).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.exc import DBAPIError

from odbridge.api.client import Client
from odbridge.simulator.server import SimulatorServer
from odbridge.store.db import describe_db_error
from odbridge.store.schema import audit_log, patients, sync_runs
from odbridge.sync.engine import ResourceSync
from tests.helpers import CUST_KEY, DEV_KEY, HEADERS, SimulatorFactory, first_answer

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))

SIM_DEV_KEY = "leakcheck-dev-7d41c2e9"
SIM_CUST_KEY = "leakcheck-cust-b83f0a56"
WRONG_CUST_KEY = "leakcheck-wrong-cust-2c9e7f13"
KEYS = (SIM_DEV_KEY, SIM_CUST_KEY, WRONG_CUST_KEY)

SIM_OPTIONS = ("--patients", "150", "--seed", "5", "--tier", "full", "--rate-interval", "0")

FAULTS = {
    "econnector": 0.03,
    "error500": 0.1,
    "timeout": 0.05,
    "slow": 0.05,
    "reset": 0.05,
    "truncated": 0.05,
    "malformed": 0.05,
    "slow_seconds": 0.05,
    "timeout_seconds": 0.2,
    "seed": 4,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cmdlines(pid: int) -> Iterator[str]:
    """The command line and process name of ``pid`` and of its children, as text."""
    proc = Path(f"/proc/{pid}")
    try:
        yield proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        yield proc.joinpath("comm").read_text(encoding="utf-8", errors="replace")
        for task in proc.joinpath("task").iterdir():
            for child in task.joinpath("children").read_text().split():
                yield from _cmdlines(int(child))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return


@dataclass
class Transcript:
    """Everything the commands showed, and every process title seen while they ran."""

    texts: list[str] = field(default_factory=list)
    titles: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, process: subprocess.Popen[str]) -> None:
        """Sample the process's titles until it exits (run in a thread, or inline)."""
        while process.poll() is None:
            found = set(_cmdlines(process.pid))
            with self._lock:
                self.titles |= found
            time.sleep(0.02)

    def run(
        self, args: list[str], env: dict[str, str], stdout: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``odbridge ARGS``; keep its stderr (and stdout unless sent to a file)."""
        with open(stdout or os.devnull, "w", encoding="utf-8") as sink:
            process = subprocess.Popen(
                [ODBRIDGE, *args],
                env=env,
                stdout=sink if stdout else subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            watcher = threading.Thread(target=self.watch, args=(process,), daemon=True)
            watcher.start()
            out, err = process.communicate(timeout=120)
            watcher.join(timeout=5)
        with self._lock:
            self.texts += [f"$ odbridge {' '.join(args)}", out or "", err]
        return subprocess.CompletedProcess(args, process.returncode, out or "", err)


def phi_values(records: Iterable[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(names, other identifiers) of the seeded patients, as they would appear in text."""
    names: set[str] = set()
    identifiers: set[str] = set()
    for record in records:
        for name in (record["LName"], record["FName"]):
            if len(name) >= 3:
                names.add(name)
        for field_name in ("HmPhone", "WkPhone", "WirelessPhone", "Email", "SSN"):
            value = str(record[field_name])
            if len(value) >= 7:
                identifiers.add(value)
    return names, identifiers


def leaks(corpus: str, names: set[str], identifiers: set[str]) -> list[str]:
    """Every key, name (as a whole word) or identifier found in ``corpus``."""
    found = [key for key in KEYS if key in corpus]
    found += [value for value in identifiers if value in corpus]
    words = set(re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", corpus))
    found += sorted(names & words)
    return found


def cli_env(tmp_path: Path, base_url: str, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODBRIDGE_")}
    return {
        **clean,
        "ODBRIDGE_DEVELOPER_KEY": SIM_DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": SIM_CUST_KEY,
        "ODBRIDGE_BASE_URL": base_url,
        "ODBRIDGE_MODE": "remote",
        "ODBRIDGE_TIER": "full",
        "ODBRIDGE_RATE_INTERVAL": "0",
        "ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"),
        "ODBRIDGE_DB": f"sqlite:///{tmp_path / 'store.sqlite'}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "COLUMNS": "200",
        **extra,
    }


def test_no_key_or_patient_field_in_any_output_log_or_process_title(tmp_path: Path) -> None:
    transcript = Transcript()
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    env = cli_env(tmp_path, f"{root}/api/v1")
    sim_env = {**env, "ODBRIDGE_SIM_DEVELOPER_KEY": SIM_DEV_KEY}
    sim_env["ODBRIDGE_SIM_CUSTOMER_KEY"] = SIM_CUST_KEY

    # A sync against a server that is not running retries for ~16 s: start it first.
    stopped = {**env, "ODBRIDGE_BASE_URL": f"http://127.0.0.1:{free_port()}/api/v1"}
    stopped["ODBRIDGE_DB"] = f"sqlite:///{tmp_path / 'stopped.sqlite'}"
    background: dict[str, subprocess.CompletedProcess[str]] = {}
    against_stopped = threading.Thread(
        target=lambda: background.update(stopped=transcript.run(["sync"], stopped))
    )
    against_stopped.start()

    simulate = subprocess.Popen(
        [ODBRIDGE, "simulate", "--port", str(port), *SIM_OPTIONS],
        env=sim_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sim_watcher = threading.Thread(target=transcript.watch, args=(simulate,), daemon=True)
    sim_watcher.start()
    try:
        health = f"{root}/_simulator/health"
        first_answer(lambda: httpx.get(health).raise_for_status(), "the simulator", simulate)
        records: list[dict[str, Any]] = httpx.get(f"{root}/_simulator/patients").json()

        check = transcript.run(["check"], env)
        first = transcript.run(["sync"], env)
        httpx.post(f"{root}/_simulator/changes", json={"count": 15}).raise_for_status()
        again = transcript.run(["sync"], env)
        status = transcript.run(["status"], env)
        listing = tmp_path / "patients.csv"
        listed = transcript.run(["patients", "list", "--all", "--format", "csv"], env, listing)
        shown = transcript.run(["config", "show"], env)
        wrong = transcript.run(["sync"], {**env, "ODBRIDGE_CUSTOMER_KEY": WRONG_CUST_KEY})
        wrong_check = transcript.run(["check"], {**env, "ODBRIDGE_CUSTOMER_KEY": WRONG_CUST_KEY})
        httpx.put(f"{root}/_simulator/faults", json=FAULTS).raise_for_status()
        faulty = transcript.run(["sync", "--full"], env)
        faults = httpx.get(f"{root}/_simulator/stats").json()["faults"]
        httpx.put(f"{root}/_simulator/faults", json={}).raise_for_status()
    finally:
        simulate.send_signal(signal.SIGINT)
        sim_output, _ = simulate.communicate(timeout=20)
        sim_watcher.join(timeout=5)
    against_stopped.join(timeout=90)

    # The commands really did what they are for (so their silence means something).
    assert check.returncode == 0, check.stdout + check.stderr
    assert (first.returncode, again.returncode, status.returncode) == (0, 0, 0)
    assert "150" in status.stdout
    assert listed.returncode == 0
    assert listing.read_text(encoding="utf-8").count("\n") == 151  # header + every patient
    assert shown.returncode == 0
    assert wrong.returncode == 1
    assert "customer key" in wrong.stderr
    assert wrong_check.returncode == 1
    assert faulty.returncode in (0, 1)
    assert sum(faults.values()) >= 1, "no fault was injected"
    assert background["stopped"].returncode == 1
    assert "Connection refused" in background["stopped"].stderr
    assert "GET /api/v1/patients/Simple" in sim_output  # the simulator's log was captured

    # The run log and the audit log are logs too.
    engine = create_engine(env["ODBRIDGE_DB"])
    with engine.connect() as connection:
        run_log = [str(row) for row in connection.execute(select(sync_runs))]
        audit = [str(row) for row in connection.execute(select(audit_log))]
    engine.dispose()
    assert any("'failed'" in row for row in run_log)  # the wrong-key run is in it
    assert audit

    names, identifiers = phi_values(records)
    assert len(leaks(listing.read_text(encoding="utf-8"), names, identifiers)) > 300  # detector ok
    corpus = "\n".join([*transcript.texts, sim_output, *run_log, *audit])
    titles = "\n".join(sorted(transcript.titles))
    assert "simulate" in titles  # the process titles were really sampled
    assert leaks(corpus, names, identifiers) == []
    assert leaks(titles, names, identifiers) == []


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_page_the_database_refuses_fails_the_run_without_quoting_rows(
    simulator_factory: SimulatorFactory, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL cannot store a NUL character: the run fails, and says so without data."""
    sim = simulator_factory(patients=120)
    odd = {"LName": "Nul\u0000Name"}
    httpx.put(f"{sim.base_url}/patients/7", json=odd, headers=HEADERS).raise_for_status()
    sim.event("bad-row", {"PatNum": 7, "field": "Zip", "value": "9" * 300})  # no API writes it
    names, identifiers = phi_values(sim.all_patients())
    caplog.set_level(logging.DEBUG)
    with Client(
        DEV_KEY, CUST_KEY, base_url=sim.base_url, rate_interval=0, trust_env=False
    ) as client:
        summary = ResourceSync(store, client, "main").run()
    with store.connect() as connection:
        logged = connection.execute(select(sync_runs.c.error)).scalar_one()
    assert summary.outcome == "failed"  # not raised: the CLI reports it, no traceback
    assert summary.error is not None
    assert "store could not save a page" in summary.error
    assert logged == summary.error
    corpus = f"{summary.error}\n{caplog.text}"
    assert "parameters" not in corpus
    assert leaks(corpus, names, identifiers) == []


def test_database_errors_are_described_without_the_row(store: Engine) -> None:
    secret = "Zyxwvutsrq"  # a patient's name in a row that breaks a constraint
    now = text("CURRENT_TIMESTAMP")
    row = {"practice": "p", "pat_num": 1, "lname": secret, "row_hash": None}
    with pytest.raises(DBAPIError) as caught, store.begin() as connection:
        connection.execute(insert(patients).values(**row, first_seen_at=now, last_synced_at=now))
    described = describe_db_error(caught.value)
    assert "row_hash" in described
    assert secret not in described  # PostgreSQL's DETAIL quotes the whole row: left out
    assert "[parameters" not in str(caught.value)  # and the engine hides the parameters


def _modes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [folder, *folder.rglob("*")]
    }


def test_files_odbridge_creates_are_private_to_their_owner(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """The store (and its WAL files), the de-identification key and exports: 0600 / 0700."""
    data = tmp_path / "data"
    env = cli_env(tmp_path, simulator.base_url, XDG_DATA_HOME=str(data))
    env["ODBRIDGE_DEVELOPER_KEY"], env["ODBRIDGE_CUSTOMER_KEY"] = DEV_KEY, CUST_KEY
    del env["ODBRIDGE_DB"]  # the default store, in the data directory
    transcript = Transcript()
    synced = transcript.run(["sync"], env)
    assert synced.returncode == 0, synced.stderr
    exported = transcript.run(["export", "--deidentify", "--out", str(tmp_path / "out.csv")], env)
    assert exported.returncode == 0, exported.stderr
    store_file = data / "odbridge" / "odbridge.sqlite"
    engine = create_engine(f"sqlite:///{store_file}")  # open: the WAL files exist meanwhile
    try:
        with engine.begin() as connection:
            connection.execute(text("PRAGMA journal_mode=WAL"))
            connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        modes = _modes(data / "odbridge")
    finally:
        engine.dispose()
    assert modes.pop(".") == "0o700"
    assert {"odbridge.sqlite", "odbridge.sqlite-wal", "deid.key"} <= set(modes)
    assert set(modes.values()) == {"0o600"}, modes
    assert oct(stat.S_IMODE((tmp_path / "out.csv").stat().st_mode)) == "0o600"
