"""Practice events and moving data: merges, deletes, new family members, change traffic."""

from __future__ import annotations

import time

import httpx
import pytest

from odbridge.simulator.server import SimulatorServer
from tests.helpers import HEADERS, SimulatorFactory, wait_for

pytestmark = pytest.mark.integration


def control(sim: SimulatorServer, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{sim.root_url}/_simulator/{path}", json=body, timeout=10)


def patient(sim: SimulatorServer, pat_num: int) -> dict[str, object]:
    response = httpx.get(f"{sim.base_url}/patients/{pat_num}", headers=HEADERS, timeout=10)
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def test_merge_archives_the_merged_from_patient(simulator: SimulatorServer) -> None:
    before = patient(simulator, 10)
    assert control(simulator, "events/merge", {"from": 10, "into": 11}).status_code == 200
    after = patient(simulator, 10)
    assert after["PatStatus"] == "Archived"
    assert str(after["DateTStamp"]) >= str(before["DateTStamp"])
    assert control(simulator, "events/merge", {"from": 10, "into": 10}).status_code == 400


def test_deleting_in_open_dental_sets_status_deleted_and_keeps_the_row(
    simulator: SimulatorServer,
) -> None:
    assert control(simulator, "events/delete", {"PatNum": 12}).status_code == 200
    assert patient(simulator, 12)["PatStatus"] == "Deleted"


def test_new_family_member_joins_the_guarantors_family(simulator: SimulatorServer) -> None:
    head = patient(simulator, 1)
    response = control(simulator, "events/family-member", {"Guarantor": 1})
    assert response.status_code == 201
    child = response.json()
    assert child["PatNum"] == 201
    assert child["Guarantor"] == head["Guarantor"]
    assert child["LName"] == head["LName"]
    assert child["Position"] == "Child"
    assert patient(simulator, 201) == child


def test_changes_endpoint_bumps_date_t_stamps(simulator: SimulatorServer) -> None:
    before = {p["PatNum"]: p for p in simulator.all_patients()}
    touched = simulator.change(15)
    after = {p["PatNum"]: p for p in simulator.all_patients()}
    assert len(set(touched)) == 15
    today = time.strftime("%Y-%m-%d")
    for pat_num in touched:
        assert after[pat_num]["DateTStamp"].startswith(today)
        assert after[pat_num]["DateTStamp"] > before[pat_num]["DateTStamp"]
    untouched = set(before) - set(touched)
    assert all(after[n] == before[n] for n in untouched)
    assert simulator.stats()["changes"] == 15


def test_change_traffic_runs_in_the_background(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(changes_per_minute=1200)  # one change every 50 ms
    wait_for(lambda: sim.stats()["changes"] >= 5, "five changes in the background")


def test_same_seed_same_practice_over_http(simulator_factory: SimulatorFactory) -> None:
    first = simulator_factory(seed=99, patients=300).all_patients()
    second = simulator_factory(seed=99, patients=300).all_patients()
    other = simulator_factory(seed=100, patients=300).all_patients()
    assert first == second
    assert first != other
