"""How close does a full patient read come to the rate limit's budget, with zero 429s?

For each interval, starts a simulator that rejects early requests (429), reads every patient
with a client paced to the same interval, and prints the ratio of wall time to the budget
(pages x interval, pages counting every request including the empty one that ends paging)
and the number of throttled responses. Target: ratio <= 1.02 and 0 throttled. The stricter
"gap ratio" divides by (pages - 1) x interval, the gaps between request starts.

    .venv/bin/python bench/pacing.py                      # 2000 patients, 0.2 s and 1 s
    .venv/bin/python bench/pacing.py --patients 500 --intervals 0.05 0.2
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from dataclasses import dataclass

from odbridge.api.client import Client
from odbridge.api.pacing import reset_pacers
from odbridge.simulator.server import SimulatorServer
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
        SimulatorServer(settings) as sim,
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


def main() -> None:
    """Parse arguments, run each interval, print a table."""
    parser = argparse.ArgumentParser(description="Pacing versus the rate-limit budget.")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.2, 1.0])
    parser.add_argument("--throttle", choices=["reject", "delay"], default="reject")
    args = parser.parse_args()
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
