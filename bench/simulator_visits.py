"""Print how long the simulator takes to build its visit history for N patients, how many
rows it holds, and how long a page of each visit endpoint takes to serve.

Run: .venv/bin/python bench/simulator_visits.py [N ...]   (default 1000 10000)
"""

from __future__ import annotations

import sys
import time

import httpx

from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.settings import SimulatorSettings

HEADERS = {"Authorization": "ODFHIR devkey-sim/custkey-sim", "Content-Type": "application/json"}
PATHS = ("/appointments", "/procedurelogs", "/recalls", "/histappointments", "/recalls/List")


def main() -> None:
    """One simulator per size (local mode: 1000 rows a page, unthrottled)."""
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    for n in sizes:
        started = time.perf_counter()
        with SimulatorServer(SimulatorSettings(patients=n, mode="local")) as sim:
            ready = time.perf_counter() - started
            with httpx.Client(headers=HEADERS, timeout=120) as client:
                first = time.perf_counter()
                counts = client.get(f"{sim.root_url}/_simulator/visits").json()
                history = time.perf_counter() - first
                print(
                    f"patients={n:>6}  serving_after={ready:.2f}s  history_ready_after="
                    f"{history:.2f}s more  rows={counts}"
                )
                for path in PATHS:
                    times = []
                    for offset in (0, 5000, 20000):
                        tick = time.perf_counter()
                        client.get(f"{sim.base_url}{path}", params={"Offset": offset})
                        times.append((time.perf_counter() - tick) * 1000)
                    shown = "  ".join(f"{t:6.1f}" for t in times)
                    print(f"    {path:<18} page ms at offset 0/5000/20000: {shown}")


if __name__ == "__main__":
    main()
