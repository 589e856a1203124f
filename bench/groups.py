"""A dental group through the queue: N practices from one simulator, synced by 1, 2 and 4
`odbridge worker` processes into PostgreSQL.

One simulator process serves every practice (keys ``bench-cust-1`` … ``-N``, each its own
data and its own throttle, 429 on a request too early). For each worker count: a fresh
PostgreSQL schema, ``odbridge queue migrate``, ``odbridge sync --all --queue`` (one job per
practice), then W workers (``--until-empty --concurrency C``) started together. Printed:

- rows/s: rows received / time from the first run's start to the last run's end (run log);
- CPU per 1,000 rows: user + system CPU of the worker processes (os.wait4), whole process
  lifetime (start-up included); PostgreSQL's and the simulator's CPU are not in it;
- 429s: throttled answers counted by the simulator;
- time to the last practice against two floors: pages × interval (one practice alone: what
  N practices would take with a slot each) and waves × pages × interval (W × C slots).

    .venv/bin/python bench/groups.py                 # 200 practices x 2,000 patients
    .venv/bin/python bench/groups.py --quick         # 20 practices x 2,000 patients
    .venv/bin/python bench/groups.py --workers 2 --concurrency 8 --interval 0.5

The simulator holds about 2.2 KB per patient (200 x 2,000 ≈ 900 MB); each practice is
generated on first use, so the script asks for every one before timing.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from _support import CUST, DEV, ODBRIDGE, simulator
from sqlalchemy import create_engine, text

from odbridge.simulator.handle import SimulatorHandle

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Result:
    """One measured run."""

    workers: int
    slots: int
    practices: int
    rows: int
    pages: int
    """Pages (requests) of the largest practice."""
    span: float
    """First run's start to last run's end (run log), seconds."""
    wall: float
    """Workers started to all stopped, seconds."""
    cpu: float
    throttled: int
    requests: int
    failed: int
    interval: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.span

    @property
    def cpu_ms_per_1000(self) -> float:
        return self.cpu * 1000 / self.rows * 1000

    @property
    def one_practice(self) -> float:
        """pages × interval: one practice alone at the rate limit."""
        return self.pages * self.interval

    @property
    def waves(self) -> float:
        """ceil(practices / slots) × pages × interval."""
        return math.ceil(self.practices / self.slots) * self.one_practice


def write_config(path: Path, base_url: str, practices: int, interval: float) -> None:
    tables = [
        f'[practices.p{i:03d}]\ndeveloper_key = "{DEV}"\ncustomer_key = "{CUST}-{i}"\n'
        f'base_url = "{base_url}"\nmode = "remote"\ntier = "full"\nrate_interval = {interval}\n'
        for i in range(1, practices + 1)
    ]
    path.write_text("\n".join(tables))
    path.chmod(0o600)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def warm(sim: SimulatorHandle, practices: int) -> float:
    """Generate every practice (lazily made by the simulator) before timing; seconds."""
    started = time.monotonic()
    with httpx.Client(timeout=600) as client, ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: client.get(f"{sim.root_url}/_simulator/stats?practice={i}"),
                range(1, practices + 1),
            )
        )
    return time.monotonic() - started


def odbridge(*args: str, env: dict[str, str]) -> None:
    subprocess.run([ODBRIDGE, *args], env=env, check=True, capture_output=True, text=True)


def run(
    sim: SimulatorHandle,
    env: dict[str, str],
    workers: int,
    concurrency: int,
    args: argparse.Namespace,
) -> Result:
    """One fresh store, every practice queued, ``workers`` workers until the queue is empty."""
    schema = f"bench_groups_{workers}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG}?options=-csearch_path%3D{schema}"
    try:
        odbridge("queue", "migrate", "--db", url, env=env)
        odbridge("sync", "--all", "--queue", "--db", url, env=env)
        httpx.post(f"{sim.root_url}/_simulator/stats/reset").raise_for_status()
        started = time.monotonic()
        command = [ODBRIDGE, "worker", "--until-empty", "--concurrency", str(concurrency)]
        processes = [
            subprocess.Popen(
                [*command, "--db", url],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        cpu = 0.0
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
        wall = time.monotonic() - started
        stats = sim.stats()
        with admin.connect() as connection:
            connection.execute(text(f'SET search_path TO "{schema}"'))
            row = connection.execute(
                text(
                    "SELECT sum(rows_received), max(pages), "
                    "extract(epoch FROM max(finished_at) - min(started_at)), "
                    "count(*) FILTER (WHERE outcome <> 'ok') FROM sync_runs"
                )
            ).one()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return Result(
        workers=workers,
        slots=workers * concurrency,
        practices=args.practices,
        rows=int(row[0] or 0),
        pages=int(row[1] or 0),
        span=float(row[2] or wall),
        wall=wall,
        cpu=cpu,
        throttled=int(str(stats["throttled"])),
        requests=int(str(stats["requests"])),
        failed=int(row[3] or 0) + sum(1 for p in processes if p.returncode),
        interval=args.interval,
    )


def main() -> None:
    """Parse arguments, start the simulator, run each worker count, print a table."""
    parser = argparse.ArgumentParser(description="A dental group through the sync queue.")
    parser.add_argument("--practices", type=int, default=200)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4, help="practices per worker")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--quick", action="store_true", help="20 practices")
    args = parser.parse_args()
    if args.quick:
        args.practices = min(args.practices, 20)
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        with simulator(
            practices=args.practices,
            patients=args.patients,
            tier="full",
            rate_interval=args.interval,
            throttle="reject",
        ) as sim:
            write_config(config, sim.base_url, args.practices, args.interval)
            env = {**os.environ, "ODBRIDGE_CONFIG": str(config), "COLUMNS": "200"}
            assert sim.pid is not None
            warmed = warm(sim, args.practices)
            kb = rss_kb(sim.pid)
            print(
                f"simulator: {args.practices} practices x {args.patients} patients generated "
                f"in {warmed:.0f} s, RSS {kb / 1024:.0f} MB "
                f"({kb / (args.practices * args.patients):.2f} KB a patient)"
            )
            print(
                f"{'workers':>7} {'slots':>5} {'rows':>8} {'span s':>7} {'wall s':>7} "
                f"{'rows/s':>7} {'CPU ms/1k':>9} {'429s':>5} {'req':>6} {'failed':>6} "
                f"{'pages x int':>11} {'waves floor':>11} {'span/waves':>10}"
            )
            for workers in args.workers:
                r = run(sim, env, workers, args.concurrency, args)
                print(
                    f"{r.workers:>7} {r.slots:>5} {r.rows:>8} {r.span:>7.1f} {r.wall:>7.1f} "
                    f"{r.rows_per_second:>7.0f} {r.cpu_ms_per_1000:>9.0f} {r.throttled:>5} "
                    f"{r.requests:>6} {r.failed:>6} {r.one_practice:>11.1f} {r.waves:>11.1f} "
                    f"{r.span / r.waves:>10.2f}",
                    flush=True,
                )
    print(
        f"(interval {args.interval:g} s, {args.concurrency} practices per worker, remote pages "
        f"of 100; CPU is the workers' own; machine: {os.cpu_count()} cores, shared)"
    )


if __name__ == "__main__":
    main()
