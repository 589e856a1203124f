"""Under 20% injected faults every patient still arrives exactly once."""

from __future__ import annotations

import pytest

from odbridge.api.retry import RetryPolicy
from tests.helpers import SimulatorFactory, SimulatorProcessFactory, client_for

pytestmark = pytest.mark.integration

FAULTS_20_PERCENT = {
    "error500": 0.05,
    "reset": 0.04,
    "truncated": 0.04,
    "malformed": 0.03,
    "timeout": 0.02,
    "slow": 0.02,
    "timeout_seconds": 0.05,
    "slow_seconds": 0.05,
    "seed": 3,
}
QUICK_RETRY = RetryPolicy(max_attempts=8, initial=0.01, max_wait=0.1, jitter=0.01)


def test_full_read_under_faults_returns_every_patient_once(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(patients=1500)
    sim.set_faults(FAULTS_20_PERCENT)
    with client_for(sim, retry=QUICK_RETRY) as client:
        pat_nums = [p.pat_num for p in client.patients.list()]
    truth = sorted(p["PatNum"] for p in sim.all_patients())
    assert sorted(pat_nums) == truth
    assert len(pat_nums) == len(set(pat_nums)) == 1500
    faults = sim.stats()["faults"]
    assert sum(faults.values()) >= 3  # the faults really happened
    assert client.stats.retries == sum(faults.values()) - faults.get("slow", 0)


@pytest.mark.exclusive  # 0 x 429 asserted: no other test beside it
def test_paced_incremental_read_under_faults(
    simulator_process_factory: SimulatorProcessFactory,
) -> None:
    # throttled: in a process of its own, so its 429 count does not depend on this one's load
    sim = simulator_process_factory(patients=600, rate_interval=0.05, throttle="reject")
    sim.set_faults(FAULTS_20_PERCENT)
    with client_for(sim, retry=QUICK_RETRY) as client:
        changed = list(client.patients.list(changed_since="2000-01-01 00:00:00"))
    assert sorted(p.pat_num for p in changed) == list(range(1, 601))
    assert all(p.server_date_time is not None for p in changed)
    stats = sim.stats()
    assert stats["throttled"] == 0
    assert sum(stats["faults"].values()) >= 1
