"""Throttle arithmetic and fault specs, with no server."""

from __future__ import annotations

import pytest

from odbridge.simulator.faults import FaultInjector, FaultSpecError, parse_fault_spec
from odbridge.simulator.settings import SimulatorSettings
from odbridge.simulator.throttle import Throttle

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_is_per_key_and_start_to_start() -> None:
    clock = FakeClock()
    throttle = Throttle(1.0, grace=0.01, clock=clock)
    assert not throttle.admit("a", delay=False).rejected
    assert not throttle.admit("b", delay=False).rejected  # another practice's key
    clock.now += 0.5
    early = throttle.admit("a", delay=False)
    assert early.rejected
    assert early.wait == pytest.approx(0.5)
    assert early.retry_after == 1
    clock.now += 0.495  # within the grace
    assert not throttle.admit("a", delay=False).rejected


def test_delay_mode_queues_slots() -> None:
    clock = FakeClock()
    throttle = Throttle(0.5, grace=0.0, clock=clock)
    waits = [throttle.admit("k", delay=True).wait for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.5, 1.0])


def test_zero_interval_never_throttles() -> None:
    throttle = Throttle(0.0)
    assert all(not throttle.admit("k", delay=False).rejected for _ in range(100))


def test_fault_spec_parsing() -> None:
    settings = parse_fault_spec("econnector=0.1, error500=0.05,slow-seconds=0.5,seed=9")
    assert settings.econnector == 0.1
    assert settings.slow_seconds == 0.5
    assert settings.seed == 9
    for bad, message in (
        ("bogus=0.1", "unknown fault 'bogus'"),
        ("error500", "needs a value"),
        ("error500=lots", "error500"),
        ("error500=0.7,reset=0.7", "more than 1"),
    ):
        with pytest.raises(FaultSpecError, match=message):
            parse_fault_spec(bad)


def test_fault_draws_follow_probabilities_and_seed() -> None:
    settings = parse_fault_spec("error500=0.2,reset=0.1,seed=4")
    first = [FaultInjector(settings).draw() for _ in range(1)]
    draws = FaultInjector(settings)
    sequence = [draws.draw() for _ in range(5000)]
    again = FaultInjector(settings)
    assert sequence == [again.draw() for _ in range(5000)]
    assert first[0] == sequence[0]
    assert 0.17 < sequence.count("error500") / 5000 < 0.23
    assert 0.08 < sequence.count("reset") / 5000 < 0.12


def test_settings_resolve_mode_cap_and_interval() -> None:
    assert SimulatorSettings().interval == 5.0
    assert SimulatorSettings().page_cap == 100
    assert SimulatorSettings(tier="full").interval == 1.0
    local = SimulatorSettings(page_limit=1000)
    assert (local.mode, local.interval, local.page_cap) == ("local", 0.0, 1000)
    assert SimulatorSettings(mode="service").page_cap == 1000
    assert SimulatorSettings(tier="full", rate_interval=0.2).interval == 0.2
