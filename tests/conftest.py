"""Shared fixtures: simulators on loopback ports, and a rule that a skipped test fails the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.settings import SimulatorSettings
from tests.helpers import CUST_KEY, DEV_KEY, SimulatorFactory


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failure of the setup, not a pass."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = len(reporter.stats.get("skipped", []))
    if skipped and exitstatus == 0:
        reporter.write_line(f"{skipped} test(s) skipped: failing the run (nothing may be skipped)")
        session.exitstatus = 1


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    """Start simulators with the test keys; each stops at the end of the test.

    Keyword arguments are SimulatorSettings fields; the default is an unthrottled practice.
    """
    started: list[SimulatorServer] = []

    def start(**overrides: Any) -> SimulatorServer:
        values: dict[str, Any] = {
            "patients": 200,
            "seed": 7,
            "developer_key": DEV_KEY,
            "customer_key": CUST_KEY,
            "tier": "full",
            "rate_interval": 0.0,
        }
        values.update(overrides)
        server = SimulatorServer(SimulatorSettings.model_validate(values)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def simulator(simulator_factory: SimulatorFactory) -> SimulatorServer:
    """An unthrottled simulator of 200 patients."""
    return simulator_factory()
