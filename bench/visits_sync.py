"""Visits sync benchmark: peak memory of ``odbridge sync --visits`` for a small and a big
practice (target: flat, < 200 MB), and the requests of an incremental visits sync after K
front-desk changes against the pages of what it read plus one request per resource.

Run: .venv/bin/python bench/visits_sync.py [--patients N ...] [--changes K ...]

The simulator runs in its own process (its memory is not counted); the sync runs as the CLI
does, in a child process whose own peak RSS is read when it ends (``wait4``). Memory runs
use the local API (1,000 rows a page, unthrottled); the incremental rounds use remote pages
(100 rows) without throttling, so each round takes seconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))

from _support import CUST, DEV, ODBRIDGE, simulator

from odbridge.api.client import Client
from odbridge.store.db import create_store_engine
from odbridge.store.schema_visits import appointments, procedure_logs
from odbridge.sync.visits import sync_visits

TARGET_MB = 200.0


def sync_env(base_url: str, mode: str, folder: str) -> dict[str, str]:
    return {
        **os.environ,
        "ODBRIDGE_DEVELOPER_KEY": DEV,
        "ODBRIDGE_CUSTOMER_KEY": CUST,
        "ODBRIDGE_BASE_URL": base_url,
        "ODBRIDGE_MODE": mode,
        "ODBRIDGE_CONFIG": f"{folder}/none.toml",
    }


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MB of the child itself, wall seconds); fails if the command does."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        error = child.stderr.read().decode(errors="replace")[-2000:] if child.stderr else ""
        raise RuntimeError(f"{command[1]} failed ({child.returncode}): {error}")
    return usage.ru_maxrss / 1024, wall


def memory(patients: int) -> None:
    """Peak RSS of a first ``odbridge sync --visits`` (patients, then the visit history)."""
    with (
        simulator(patients=patients, mode="local") as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        rows = httpx.get(f"{sim.root_url}/_simulator/visits", timeout=600).json()
        url = f"sqlite:///{folder}/rss.sqlite"
        env = sync_env(sim.base_url, "local", folder)
        peak, wall = run_measured(
            [ODBRIDGE, "sync", "--visits", "--history-years", "50", "--db", url], env
        )
        engine = create_store_engine(url)
        with engine.connect() as connection:
            apts = connection.execute(select(func.count()).select_from(appointments)).scalar()
            procs = connection.execute(select(func.count()).select_from(procedure_logs)).scalar()
        engine.dispose()
        flag = "" if peak < TARGET_MB else "  > target"
        print(
            f"peak RSS `odbridge sync --visits`, {patients:>7,} patients "
            f"({apts:,} appointments, {procs:,} procedures synced; the simulator holds "
            f"{rows['appointments']:,} / {rows['procedurelogs']:,}): {peak:.0f} MB "
            f"(wall {wall:.0f} s){flag}"
        )


def incremental(patients: int, changes: list[int]) -> None:
    """Requests of incremental visits rounds after K changes: per incremental resource, the
    pages of the rows it read plus one (the empty or short last page)."""
    with (
        simulator(patients=patients, mode="remote", rate_interval=0) as sim,
        tempfile.TemporaryDirectory() as folder,
    ):
        engine = create_store_engine(f"sqlite:///{folder}/inc.sqlite")
        client = Client(DEV, CUST, base_url=sim.base_url, mode="remote", rate_interval=0, env={})
        with client:
            first = sync_visits(engine, client, "bench")
            print(
                f"first visits sync, {patients:,} patients: "
                f"{sum(s.requests for s in first):,} requests, "
                f"{sum(s.progress.rows for s in first):,} rows"
            )
            page = 100
            for count in changes:
                httpx.post(
                    f"{sim.root_url}/_simulator/visits/changes", json={"count": count}, timeout=60
                ).raise_for_status()
                summaries = sync_visits(engine, client, "bench")
                ideal = sum(s.progress.rows // page + 1 for s in summaries)
                used = sum(s.requests for s in summaries)
                detail = ", ".join(
                    f"{s.progress.resource} {s.progress.rows} rows/{s.requests} req"
                    for s in summaries
                )
                flag = "" if used <= ideal else "  > target"
                print(
                    f"incremental after K={count:>5} changes: {used} requests; pages of what "
                    f"it read + 1 per resource = {ideal}{flag}  [{detail}]"
                )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument("--changes", type=int, nargs="+", default=[10, 250, 1000])
    parser.add_argument("--incremental-patients", type=int, default=2_000)
    args = parser.parse_args()
    incremental(args.incremental_patients, args.changes)
    for n in args.patients:
        memory(n)


if __name__ == "__main__":
    main()
