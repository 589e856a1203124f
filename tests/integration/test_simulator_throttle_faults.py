"""Throttling (both modes) and every fault kind, over real HTTP."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from odbridge.simulator.app import ECONNECTOR_MESSAGE
from odbridge.simulator.server import SimulatorServer
from tests.helpers import HEADERS, SettableClock, SimulatorFactory

pytestmark = pytest.mark.integration


def get(sim: SimulatorServer, path: str = "/patients/Simple") -> httpx.Response:
    return httpx.get(sim.base_url + path, headers=HEADERS, params={"Limit": 10}, timeout=30)


def test_reject_mode_answers_429_with_retry_after_and_counts_it(
    simulator_factory: SimulatorFactory,
) -> None:
    clock = SettableClock(100.0)
    sim = simulator_factory(rate_interval=1.5, throttle_clock=clock)
    first = get(sim)
    clock.advance(1.4)
    early = get(sim)
    clock.advance(0.1)
    later = get(sim)
    assert first.status_code == 200
    assert early.status_code == 429
    assert early.headers["Retry-After"] in ("1", "2")  # whole seconds, rounded up
    assert isinstance(early.json(), str)
    assert later.status_code == 200
    stats = sim.stats()
    assert stats["throttled"] == 1
    assert stats["by_status"] == {"200": 2, "429": 1}


def test_interval_is_measured_start_to_start(simulator_factory: SimulatorFactory) -> None:
    """A response slower than the interval leaves the next request free to go at once."""
    sim = simulator_factory(rate_interval=0.3)
    sim.set_faults({"slow": 1.0, "slow_seconds": 0.35})
    assert get(sim).status_code == 200
    sim.set_faults({})
    assert get(sim).status_code == 200
    assert sim.stats()["throttled"] == 0


def test_tier_defaults_pace_remote_mode(simulator_factory: SimulatorFactory) -> None:
    read_all = simulator_factory(tier="read-all", rate_interval=None)
    enterprise = simulator_factory(tier="enterprise", rate_interval=None)
    local = simulator_factory(tier="read-all", rate_interval=None, mode="local")
    assert read_all.settings.interval == 5.0
    assert enterprise.settings.interval == 0.5
    assert enterprise.settings.page_cap == 1000
    assert local.settings.interval == 0
    assert [get(read_all).status_code, get(read_all).status_code] == [200, 429]
    assert [get(local).status_code, get(local).status_code] == [200, 200]


def test_delay_mode_holds_early_requests_until_their_slot(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(rate_interval=0.25, throttle="delay")
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        statuses = [r.status_code for r in pool.map(lambda _: get(sim), range(4))]
    elapsed = time.monotonic() - started
    assert statuses == [200, 200, 200, 200]
    assert elapsed >= 0.7  # three waits of 0.25 s
    assert sim.stats()["throttled"] == 3


def test_econnector_down_gives_400_with_its_message(simulator: SimulatorServer) -> None:
    simulator.set_faults({"econnector": 1.0})
    response = get(simulator)
    assert response.status_code == 400
    assert response.json() == ECONNECTOR_MESSAGE
    assert "eConnector" in response.json()


def test_error500(simulator: SimulatorServer) -> None:
    simulator.set_faults({"error500": 1.0})
    assert get(simulator).status_code == 500


def test_timeout_gives_504_after_the_configured_time(simulator: SimulatorServer) -> None:
    simulator.set_faults({"timeout": 1.0, "timeout_seconds": 0.3})
    started = time.monotonic()
    response = get(simulator)
    assert response.status_code == 504
    assert time.monotonic() - started >= 0.3


def test_slow_response_is_late_but_complete(simulator: SimulatorServer) -> None:
    simulator.set_faults({"slow": 1.0, "slow_seconds": 0.3})
    started = time.monotonic()
    response = get(simulator)
    assert response.status_code == 200
    assert len(response.json()) == 10
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("kind", ["reset", "truncated"])
def test_dropped_connections(simulator: SimulatorServer, kind: str) -> None:
    simulator.set_faults({kind: 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        get(simulator)
    simulator.set_faults({})
    assert get(simulator).status_code == 200  # the server itself is fine
    assert simulator.stats()["faults"] == {kind: 1}


def test_malformed_json(simulator: SimulatorServer) -> None:
    simulator.set_faults({"malformed": 1.0})
    response = get(simulator)
    assert response.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


def test_a_fault_seed_replays_the_same_sequence(simulator_factory: SimulatorFactory) -> None:
    sequences = []
    for _ in range(2):
        sim = simulator_factory()
        sim.set_faults({"error500": 0.3, "econnector": 0.2, "seed": 11})
        sequences.append([get(sim, "/patients/1").status_code for _ in range(30)])
    assert sequences[0] == sequences[1]
    assert {200, 400, 500} <= set(sequences[0])


def test_faults_switch_at_run_time_and_bad_settings_are_refused(
    simulator: SimulatorServer,
) -> None:
    control = f"{simulator.root_url}/_simulator/faults"
    assert httpx.put(control, json={"error500": 2}).status_code == 400
    assert httpx.put(control, json={"bogus": 0.1}).status_code == 400
    assert httpx.put(control, json={"error500": 0.6, "reset": 0.6}).status_code == 400
    simulator.set_faults({"error500": 1.0})
    assert get(simulator).status_code == 500
    simulator.set_faults({})
    assert get(simulator).status_code == 200
