"""Sync benchmarks: pacing efficiency, incremental cost, client CPU per 1,000 rows, peak RSS.

Run: .venv/bin/python bench/sync.py [--quick]

Prints:
- full sync wall time / (pages x interval) at a paced interval (target <= 1.02, 0 throttled)
- requests of an incremental sync after K changes vs ceil(K/100) + 1
- client CPU per 1,000 rows, parse + upsert into SQLite (target <= 50 ms)
- peak RSS of `odbridge sync` for 10,000 and 100,000 patients (target: flat, < 200 MB)
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _support import CUST, DEV, ODBRIDGE, SimulatorProcess

from odbridge.api.client import Client
from odbridge.store.db import create_store_engine
from odbridge.sync.engine import ResourceSync


def pacing(patients: int, interval: float) -> None:
    with (
        SimulatorProcess(
            "--patients", str(patients), "--tier", "full", "--rate-interval", str(interval)
        ) as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        engine = create_store_engine(f"sqlite:///{folder}/bench.sqlite")
        with Client(
            DEV, CUST, base_url=sim.base_url, mode="remote", rate_interval=interval, env={}
        ) as client:
            started = time.perf_counter()
            summary = ResourceSync(engine, client, "bench").run("full")
            wall = time.perf_counter() - started
        stats = sim.stats()
        requests = summary.requests
        ideal = requests * interval
        print(
            f"full sync  patients={patients} interval={interval}s requests={requests} "
            f"wall={wall:.2f}s ratio={wall / ideal:.3f} throttled(429)={stats['throttled']}"
        )
        for changes in (10, 250, 1000):
            sim.change(changes)
            summary = ResourceSync(engine, client_for(sim, interval), "bench").run()
            target = math.ceil(changes / 100) + 1
            print(
                f"incremental K={changes:>5}: requests={summary.requests} "
                f"(ceil(K/100)+1={target}; rows read={summary.progress.rows}, with earlier "
                "rounds' changes still inside the overlap window)"
            )
            # each round re-reads earlier rounds' rows still inside the 1 h overlap window


def client_for(sim: SimulatorProcess, interval: float) -> Client:
    return Client(DEV, CUST, base_url=sim.base_url, mode="remote", rate_interval=interval, env={})


def cpu_per_thousand(patients: int) -> None:
    with (
        SimulatorProcess("--patients", str(patients), "--mode", "local") as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        engine = create_store_engine(f"sqlite:///{folder}/bench.sqlite")
        with Client(DEV, CUST, base_url=sim.base_url, mode="local", env={}) as client:
            cpu = time.process_time()
            wall = time.perf_counter()
            ResourceSync(engine, client, "bench").run("full")
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
        print(
            f"client CPU per 1,000 rows (HTTP + parse + upsert, SQLite): "
            f"{cpu / patients * 1000 * 1000:.1f} ms  (wall {wall:.1f}s for {patients} rows)"
        )


def peak_rss(patients: int) -> None:
    with (
        SimulatorProcess("--patients", str(patients), "--mode", "local") as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        env = {
            **os.environ,
            "ODBRIDGE_DEVELOPER_KEY": DEV,
            "ODBRIDGE_CUSTOMER_KEY": CUST,
            "ODBRIDGE_BASE_URL": sim.base_url,
            "ODBRIDGE_MODE": "local",
            "ODBRIDGE_CONFIG": f"{folder}/none.toml",
        }
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(
            [ODBRIDGE, "sync", "--db", f"sqlite:///{folder}/rss.sqlite"],
            env=env,
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # ru_maxrss of children is the largest child so far: run sizes in rising order.
        print(
            f"peak RSS of `odbridge sync`, {patients:>6} patients: "
            f"{max(after, before) / 1024:.0f} MB "
            f"(wall {wall:.1f}s)"
        )


def main() -> None:
    quick = "--quick" in sys.argv
    pacing(2000 if quick else 5000, 0.2)
    cpu_per_thousand(5000 if quick else 20000)
    for n in (10_000,) if quick else (10_000, 100_000):
        peak_rss(n)


if __name__ == "__main__":
    main()
