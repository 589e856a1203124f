"""Sync benchmarks: pacing efficiency, incremental cost, client CPU per 1,000 rows, peak RSS.

Run: .venv/bin/python bench/sync.py [--quick] [--only pacing|cpu|rss ...] [--db sqlite|postgresql]
     [--pg-url URL] [--runs N] [--profile FILE]

Prints:
- full sync wall time / (pages x interval) at a paced interval (target <= 1.02, 0 throttled)
- requests of an incremental sync after K changes vs ceil(K/100) + 1
- client CPU per 1,000 rows of a full Local API sync into SQLite and PostgreSQL (process CPU
  time, not wall time; target <= 50 ms for parse + upsert): the whole run, the part spent
  fetching the same pages' bytes over HTTP, and the difference (parse + upsert). PostgreSQL
  runs in a schema of its own (odbridge_bench_cpu_<pid>_<run>) on --pg-url, dropped afterwards.
- peak RSS of `odbridge sync` for 10,000 and 100,000 patients (target: flat, < 200 MB), and
  that process's whole CPU per 1,000 rows (start-up and HTTP included), as measured from outside
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _support import CUST, DEV, ODBRIDGE, simulator
from sqlalchemy import create_engine, text

from odbridge.api.client import Client
from odbridge.simulator.handle import SimulatorHandle
from odbridge.store.db import create_store_engine
from odbridge.sync.engine import ResourceSync


def pacing(patients: int, interval: float) -> None:
    with (
        simulator(patients=patients, tier="full", rate_interval=interval) as sim,
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


def client_for(sim: SimulatorHandle, interval: float) -> Client:
    return Client(DEV, CUST, base_url=sim.base_url, mode="remote", rate_interval=interval, env={})


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "odbridge_bench_cpu"


class BenchStore:
    """A fresh store for one run: a SQLite file, or a PostgreSQL schema of its own."""

    def __init__(self, kind: str, folder: str, pg_url: str, run: int) -> None:
        self.kind, self.pg_url = kind, pg_url
        self.schema = f"{PG_SCHEMA}_{os.getpid()}_{run}"
        if kind == "sqlite":
            self.url = f"sqlite:///{folder}/bench-{run}.sqlite"
        else:
            self._admin(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            self._admin(f'CREATE SCHEMA "{self.schema}"')
            self.url = f"{pg_url}?options=-csearch_path%3D{self.schema}"

    def _admin(self, sql: str) -> None:
        admin = create_engine(self.pg_url)
        with admin.begin() as connection:
            connection.execute(text(sql))
        admin.dispose()

    def drop(self) -> None:
        if self.kind != "sqlite":
            self._admin(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def transport_cpu(client: Client, patients: int) -> float:
    """CPU seconds to fetch the bytes of every page of the listing (HTTP, no parsing)."""
    limit = client.page_size
    cpu = time.process_time()
    for offset in range(0, patients + 1, limit):
        client.get_parsed("/patients/Simple", {"Limit": limit, "Offset": offset}, bytes)
    return time.process_time() - cpu


def cpu_per_thousand(
    patients: int, kinds: list[str], pg_url: str, runs: int, profile: str | None
) -> None:
    with (
        simulator(patients=patients, mode="local") as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        for run in range(runs):
            for kind in kinds:
                store = BenchStore(kind, folder, pg_url, run)
                try:
                    engine = create_store_engine(store.url)
                    with Client(DEV, CUST, base_url=sim.base_url, mode="local", env={}) as client:
                        profiler = cProfile.Profile(time.process_time) if profile else None
                        cpu = time.process_time()
                        wall = time.perf_counter()
                        if profiler is not None:
                            profiler.enable()
                        ResourceSync(engine, client, "bench").run("full")
                        if profiler is not None:
                            profiler.disable()
                            profiler.dump_stats(f"{profile}.{kind}.{run}")
                        cpu = time.process_time() - cpu
                        wall = time.perf_counter() - wall
                        http = transport_cpu(client, patients)
                    engine.dispose()
                finally:
                    store.drop()
                per = 1_000_000 / patients
                print(
                    f"client CPU per 1,000 rows, Local API full sync, {kind:<10} run {run + 1}: "
                    f"total {cpu * per:6.1f} ms = HTTP {http * per:5.1f} ms + parse & upsert "
                    f"{(cpu - http) * per:6.1f} ms  (wall {wall:.1f}s for {patients} rows)",
                    flush=True,
                )


def peak_rss(patients: int) -> None:
    """Peak RSS of an `odbridge sync` process, and its whole CPU time (interpreter start,
    HTTP, parse, upsert, index build): the figure the issue measured from outside."""
    with (
        simulator(patients=patients, mode="local") as sim,
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
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [ODBRIDGE, "sync", "--db", f"sqlite:///{folder}/rss.sqlite"],
            env=env,
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        # ru_maxrss of children is the largest child so far: run sizes in rising order.
        print(
            f"`odbridge sync`, {patients:>6} patients: peak RSS "
            f"{max(after.ru_maxrss, before.ru_maxrss) / 1024:.0f} MB, whole-process CPU "
            f"{cpu * 1_000_000 / patients:.1f} ms per 1,000 rows (wall {wall:.1f}s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller practices")
    parser.add_argument(
        "--only", action="append", choices=("pacing", "cpu", "rss"), help="run only these"
    )
    parser.add_argument(
        "--db", action="append", choices=("sqlite", "postgresql"), help="CPU: which stores"
    )
    parser.add_argument("--pg-url", default=PG_URL, help="CPU: the PostgreSQL server")
    parser.add_argument("--runs", type=int, default=1, help="CPU: runs of each store")
    parser.add_argument("--patients", type=int, help="CPU: patients (default 20,000)")
    parser.add_argument("--profile", help="CPU: write cProfile stats to FILE.<db>.<run>")
    args = parser.parse_args()
    only = set(args.only or ("pacing", "cpu", "rss"))
    if "pacing" in only:
        pacing(2000 if args.quick else 5000, 0.2)
    if "cpu" in only:
        patients = args.patients or (5000 if args.quick else 20000)
        kinds = args.db or ["sqlite", "postgresql"]
        cpu_per_thousand(patients, kinds, args.pg_url, args.runs, args.profile)
    if "rss" in only:
        for n in (10_000,) if args.quick else (10_000, 100_000):
            peak_rss(n)


if __name__ == "__main__":
    main()
