"""Print how long the simulator takes to start with N patients (target: under 3 s for 10,000).

Run: .venv/bin/python bench/simulator_start.py [N ...]
"""

from __future__ import annotations

import subprocess
import sys
import time

CODE = """
import time, httpx
started = time.perf_counter()
from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.settings import SimulatorSettings
with SimulatorServer(SimulatorSettings(patients={n}, mode="local")) as sim:
    httpx.get(sim.root_url + "/_simulator/health").raise_for_status()
    print(f"{{time.perf_counter() - started:.2f}}")
"""


def main() -> None:
    """Start a fresh interpreter per size, so imports count as they do for a user."""
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    for n in sizes:
        wall = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CODE.format(n=n)], capture_output=True, text=True, check=True
        )
        total = time.perf_counter() - wall
        print(f"patients={n:>7}  ready_after={out.stdout.strip()} s  process_total={total:.2f} s")


if __name__ == "__main__":
    main()
