"""Constants and types the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from odbridge.simulator.server import SimulatorServer

DEV_KEY = "test-dev-key-9f2c"
CUST_KEY = "test-cust-key-41ab"
ODFHIR = f"ODFHIR {DEV_KEY}/{CUST_KEY}"
HEADERS = {"Authorization": ODFHIR, "Content-Type": "application/json"}

SimulatorFactory = Callable[..., SimulatorServer]
"""``simulator_factory(**settings)``: start a simulator with the test keys."""
