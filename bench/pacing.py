"""How close does a full patient read come to the rate limit's budget, with zero 429s?

For each interval, starts a simulator (in a process of its own) that rejects early requests
(429), reads every patient with a client paced to the same interval, and prints the ratio of
wall time to the budget (pages x interval, pages counting every request including the empty
one that ends paging) and the number of throttled responses. Target: ratio <= 1.02 and 0
throttled. The stricter "gap ratio" divides by (pages - 1) x interval, the gaps between
request starts.

    .venv/bin/python bench/pacing.py                      # 2000 patients, 0.2 s and 1 s
    .venv/bin/python bench/pacing.py --patients 500 --intervals 0.05 0.2

``--group N``: the issue-16 figure instead. One simulator process serves N practices (each
its own key and throttle); ``odbridge sync --practice p01`` alone, then ``odbridge sync
--all`` (N threads, one process) into fresh SQLite stores. Printed: each sync's span as the
simulator saw it (first request to last answer), the ratio all/one (goal <= 1.10) and the
429s.

    .venv/bin/python bench/pacing.py --group 12 --intervals 0.5
    BENCH_SHOW_429=1 .venv/bin/python bench/pacing.py --group 12   # ... with the syncs' 429 lines
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from odbridge.api.client import Client
from odbridge.api.pacing import reset_pacers
from odbridge.simulator.process import SimulatorProcess
from odbridge.simulator.settings import SimulatorSettings

DEV_KEY = "bench-dev"
CUST_KEY = "bench-cust"


@dataclass(frozen=True)
class Result:
    """One measured run."""

    interval: float
    patients: int
    pages: int
    wall: float
    throttled: int
    retries: int

    @property
    def budget(self) -> float:
        """The least time the rate limit allows: pages x interval."""
        return self.pages * self.interval

    @property
    def ratio(self) -> float:
        """Wall time over the budget (below 1 is possible: the last page needs no wait)."""
        return self.wall / self.budget

    @property
    def gap_ratio(self) -> float:
        """Wall time over (pages - 1) x interval: the stricter view, spacing alone."""
        return self.wall / max(self.pages - 1, 1) / self.interval


def run(patients: int, interval: float, throttle: str) -> Result:
    """Read every patient once from a fresh simulator throttled at ``interval``."""
    reset_pacers()
    settings = SimulatorSettings(
        patients=patients,
        seed=1,
        developer_key=DEV_KEY,
        customer_key=CUST_KEY,
        tier="full",
        rate_interval=interval,
        throttle=throttle,
    )
    with (
        SimulatorProcess(settings) as sim,
        Client(
            DEV_KEY,
            CUST_KEY,
            base_url=sim.base_url,
            tier="full",
            rate_interval=interval,
            page_size=sim.settings.page_cap,
        ) as client,
    ):
        started = time.monotonic()
        count = sum(1 for _ in client.patients.list())
        wall = time.monotonic() - started
        stats = sim.stats()
    if count != patients:
        raise SystemExit(f"read {count} patients, expected {patients}")
    return Result(
        interval=interval,
        patients=count,
        pages=stats["requests"],
        wall=wall,
        throttled=stats["throttled"],
        retries=client.stats.retries,
    )


def group_rows(store: Path) -> tuple[int, int]:
    """(rows, largest pages) from a store's run log."""
    with sqlite3.connect(store) as connection:
        rows, pages = connection.execute(
            "SELECT sum(rows_received), max(pages) FROM sync_runs"
        ).fetchone()
    return int(rows), int(pages)


def group(practices: int, patients: int, interval: float) -> None:
    """``sync --all`` on ``practices`` practices against one alone; prints the figure."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _support import DEV as SUPPORT_DEV
    from _support import ODBRIDGE, simulator

    with (
        tempfile.TemporaryDirectory() as folder,
        simulator(
            practices=practices,
            patients=patients,
            tier="full",
            rate_interval=interval,
            throttle="reject",
        ) as sim,
    ):
        config = Path(folder) / "config.toml"
        config.write_text(
            "\n".join(
                f'[practices.p{i:02d}]\ndeveloper_key = "{SUPPORT_DEV}"\n'
                f'customer_key = "bench-cust-{i}"\nbase_url = "{sim.base_url}"\n'
                f'mode = "remote"\ntier = "full"\nrate_interval = {interval}\n'
                for i in range(1, practices + 1)
            )
        )
        config.chmod(0o600)
        env = {**os.environ, "ODBRIDGE_CONFIG": str(config)}
        with httpx.Client(timeout=600) as http:
            for i in range(1, practices + 1):  # generate every practice before timing
                http.get(f"{sim.root_url}/_simulator/stats?practice={i}").raise_for_status()
        figures = {}
        failed: list[str] = []
        for name, which in (("one", ["--practice", "p01"]), ("all", ["--all"])):
            httpx.post(f"{sim.root_url}/_simulator/stats/reset").raise_for_status()
            store = Path(folder) / f"{name}.sqlite"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(
                [ODBRIDGE, "sync", *which, "--db", f"sqlite:///{store}"],
                env={**env, "COLUMNS": "160"},
                capture_output=True,
                text=True,
            )
            if os.environ.get("BENCH_SHOW_429"):  # the sync's lines about 429s
                print("\n".join(x for x in done.stderr.splitlines() if "429" in x))
            if done.returncode:  # a practice failed: say which and why, then go on
                failed.append(f"sync {' '.join(which)}")
                print(f"sync {' '.join(which)} exited {done.returncode}:")
                print("\n".join(done.stdout.splitlines()[-12:] + done.stderr.splitlines()[-5:]))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
            stats = sim.stats()
            # the span as the server saw it: first request to last answer (the run log
            # keeps whole seconds only)
            span = float(stats["last_answer_at"]) - float(stats["first_request_at"])
            figures[name] = (span, *group_rows(store), int(str(stats["throttled"])), cpu)
    (one, one_rows, pages, one_429, one_cpu) = figures["one"]
    (every, rows, _, all_429, all_cpu) = figures["all"]
    print(
        f"one practice: {one:.2f} s ({one_rows} rows, {pages} pages, budget "
        f"{pages * interval:.2f} s), {one_429} x 429, process CPU {one_cpu:.1f} s"
    )
    print(
        f"{practices} practices (sync --all): {every:.2f} s ({rows} rows), {all_429} x 429, "
        f"process CPU {all_cpu:.1f} s ({all_cpu / rows * 1e6:.0f} ms per 1,000 rows, "
        "start-up included)"
    )
    if failed or rows != practices * one_rows:
        # a ratio of syncs that did not all finish says nothing: no figure
        raise SystemExit(
            f"no ratio: {', '.join(failed) or 'a practice'} did not store every row "
            f"({rows} of {practices} x {one_rows})"
        )
    print(f"ratio all/one {every / one:.3f} (goal <= 1.10 with 0 x 429)")


def main() -> None:
    """Parse arguments, run each interval, print a table."""
    parser = argparse.ArgumentParser(description="Pacing versus the rate-limit budget.")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.2, 1.0])
    parser.add_argument("--throttle", choices=["reject", "delay"], default="reject")
    parser.add_argument("--group", type=int, help="practices at once (the issue-16 figure)")
    args = parser.parse_args()
    if args.group:
        for interval in args.intervals:
            group(args.group, args.patients, interval)
        return
    os.environ["ODBRIDGE_CONFIG"] = os.path.join(tempfile.gettempdir(), "odbridge-bench-none")
    logging.basicConfig(level=logging.WARNING)
    print(
        f"{'interval s':>10} {'patients':>8} {'pages':>5} {'wall s':>8} {'budget s':>8} "
        f"{'ratio':>6} {'gap ratio':>9} {'429s':>5} {'retries':>7}"
    )
    worst = 0.0
    for interval in args.intervals:
        r = run(args.patients, interval, args.throttle)
        worst = max(worst, r.ratio)
        print(
            f"{r.interval:>10g} {r.patients:>8} {r.pages:>5} {r.wall:>8.3f} {r.budget:>8.3f} "
            f"{r.ratio:>6.3f} {r.gap_ratio:>9.3f} {r.throttled:>5} {r.retries:>7}"
        )
    print(f"worst ratio {worst:.3f} (target <= 1.02, with 0 throttled)")


if __name__ == "__main__":
    main()
