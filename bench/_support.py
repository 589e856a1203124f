"""Shared by the benchmarks: a simulator in its own process, so its CPU is not counted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from odbridge.simulator.process import SimulatorProcess
from odbridge.simulator.settings import SimulatorSettings

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))
DEV, CUST = "bench-dev", "bench-cust"


def simulator(**settings: Any) -> SimulatorProcess:
    """The simulator in a child process with the benchmarks' keys; a context manager."""
    keys = {"developer_key": SecretStr(DEV), "customer_key": SecretStr(CUST)}
    return SimulatorProcess(SimulatorSettings(**keys, **settings))
