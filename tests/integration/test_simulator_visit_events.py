"""Front-desk events on visits over real HTTP: deletions seen only through histappointments,
completions moving procedures and recalls, and the moving front desk in the background."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from odbridge.simulator.server import SimulatorServer
from tests.helpers import HEADERS, SimulatorFactory, wait_for

pytestmark = pytest.mark.integration


def get(sim: SimulatorServer, path: str, **params: Any) -> Any:
    response = httpx.get(f"{sim.base_url}{path}", params=params, headers=HEADERS, timeout=30)
    response.raise_for_status()
    return response.json()


def event(sim: SimulatorServer, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{sim.root_url}/_simulator/visits/events/{name}", json=body, timeout=30)


def truth(sim: SimulatorServer, table: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{sim.root_url}/_simulator/visits/{table}", timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def scheduled_with_procedures(sim: SimulatorServer) -> dict[str, Any]:
    procs = truth(sim, "procedurelogs")
    attached = {p["AptNum"] for p in procs if p["AptNum"]}
    return next(
        a
        for a in truth(sim, "appointments")
        if a["AptStatus"] == "Scheduled" and a["AptNum"] in attached
    )


def test_a_deleted_appointment_is_seen_only_through_histappointments(
    simulator: SimulatorServer,
) -> None:
    apt = scheduled_with_procedures(simulator)
    cursor = get(simulator, "/appointments", Limit=1)[0]["serverDateTime"]
    before = get(simulator, "/histappointments", HistApptAction="Deleted")
    assert event(simulator, "delete", {"AptNum": apt["AptNum"]}).status_code == 200
    missing = httpx.get(f"{simulator.base_url}/appointments/{apt['AptNum']}", headers=HEADERS)
    assert missing.status_code == 404
    changed = get(simulator, "/appointments", DateTStamp=cursor)
    assert apt["AptNum"] not in {a["AptNum"] for a in changed}  # no tombstone
    after = get(simulator, "/histappointments", HistApptAction="Deleted")
    assert after[: len(before)] == before  # new rows append (ORDER BY HistApptNum)
    deleted = after[-1]
    assert deleted["AptNum"] == apt["AptNum"]
    assert deleted["HistApptAction"] == "Deleted"
    assert deleted["PatNum"] == apt["PatNum"]
    assert deleted["HistDateTStamp"] >= cursor
    assert list(deleted)[:6] == [
        "HistApptNum",
        "HistUserNum",
        "HistDateTStamp",
        "HistApptAction",
        "ApptSource",
        "AptNum",
    ]
    by_apt = get(simulator, "/histappointments", AptNum=apt["AptNum"])
    assert by_apt[-1]["HistApptNum"] == deleted["HistApptNum"]
    on_day = get(simulator, "/histappointments", date=apt["AptDateTime"][:10])
    assert deleted["HistApptNum"] in {h["HistApptNum"] for h in on_day}
    unlinked = get(simulator, "/procedurelogs", DateTStamp=cursor, PatNum=apt["PatNum"])
    assert unlinked
    assert all(p["AptNum"] == 0 for p in unlinked)
    assert event(simulator, "delete", {"AptNum": apt["AptNum"]}).status_code == 400


def test_completing_an_appointment_completes_its_procedures(simulator: SimulatorServer) -> None:
    apt = scheduled_with_procedures(simulator)
    assert event(simulator, "complete", {"AptNum": apt["AptNum"]}).status_code == 200
    done = get(simulator, f"/appointments/{apt['AptNum']}")
    assert done["AptStatus"] == "Complete"
    assert done["DateTStamp"] >= apt["DateTStamp"]
    procs = get(simulator, "/procedurelogs", AptNum=apt["AptNum"])
    assert procs
    assert {p["ProcStatus"] for p in procs} == {"C"}
    assert {p["ProcDate"] for p in procs} == {apt["AptDateTime"][:10]}
    changed = get(simulator, "/histappointments", AptNum=apt["AptNum"], HistApptAction="Changed")
    assert changed[-1]["AptStatus"] == "Complete"


def test_breaking_scheduling_and_deleting_a_procedure(simulator: SimulatorServer) -> None:
    apt = scheduled_with_procedures(simulator)
    response = event(simulator, "break", {"AptNum": apt["AptNum"], "unscheduled": True})
    assert response.status_code == 200
    moved = get(simulator, f"/appointments/{apt['AptNum']}")
    assert moved["AptStatus"] == "UnschedList"
    assert moved["Op"] == 0
    missed = get(simulator, "/histappointments", AptNum=apt["AptNum"], HistApptAction="Missed")
    assert missed
    booked = event(simulator, "schedule", {"PatNum": apt["PatNum"]}).json()
    fresh = get(simulator, f"/appointments/{booked['AptNum']}")
    assert fresh["AptStatus"] == "Scheduled"
    assert fresh["PatNum"] == apt["PatNum"]
    planned = get(simulator, "/procedurelogs", AptNum=booked["AptNum"])
    assert {p["ProcStatus"] for p in planned} == {"TP"}
    proc_num = planned[0]["ProcNum"]
    assert event(simulator, "delete-procedure", {"ProcNum": proc_num}).status_code == 200
    gone = get(simulator, f"/procedurelogs/{proc_num}")
    assert gone["ProcStatus"] == "D"
    assert gone["AptNum"] == 0
    assert event(simulator, "complete", {"AptNum": 99999999}).status_code == 400


def test_recall_status_and_hard_delete(simulator: SimulatorServer) -> None:
    recall = get(simulator, "/recalls", Limit=1)[0]
    body = {"RecallNum": recall["RecallNum"], "status": "Left Msg", "Note": "called twice"}
    assert event(simulator, "recall", body).status_code == 200
    updated = get(simulator, "/recalls", PatNum=recall["PatNum"])[0]
    assert updated["recallStatus"] == "Left Msg"
    assert updated["Note"] == "called twice"
    assert updated["DateTStamp"] >= recall["DateTStamp"]
    assert event(simulator, "delete-recall", {"RecallNum": recall["RecallNum"]}).status_code == 200
    remaining = {r["RecallNum"] for r in get(simulator, "/recalls", PatNum=recall["PatNum"])}
    assert recall["RecallNum"] not in remaining


def test_the_moving_front_desk_changes_visits(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(changes_per_minute=1200)  # one change every 50 ms
    start = len(truth(sim, "histappointments"))
    first_page = get(sim, "/procedurelogs", Limit=1)[0]["ProcNum"]

    def desk_moved() -> bool:
        hist = truth(sim, "histappointments")
        newest = get(sim, "/procedurelogs", Limit=1)[0]["ProcNum"]
        return len(hist) > start + 3 and newest > first_page

    wait_for(desk_moved, "the front desk changing appointments", timeout=90, every=0.1)
    assert sim.stats()["changes"] > 0


def test_visit_changes_control(simulator: SimulatorServer) -> None:
    response = httpx.post(f"{simulator.root_url}/_simulator/visits/changes", json={"count": 30})
    assert response.status_code == 200
    done = response.json()
    assert len(done) == 30
    assert {d["action"] for d in done} >= {"schedule", "complete"}
    counts = httpx.get(f"{simulator.root_url}/_simulator/visits").json()
    assert counts["appointments"] == len(truth(simulator, "appointments"))


def test_each_practice_of_a_group_has_its_own_visits(simulator_factory: SimulatorFactory) -> None:
    group = simulator_factory(practices=3, customer_key="grp", patients=60)

    def appointments(number: int) -> list[dict[str, Any]]:
        headers = {**HEADERS, "Authorization": HEADERS["Authorization"].rsplit("/", 1)[0]}
        headers["Authorization"] += f"/grp-{number}"
        response = httpx.get(f"{group.base_url}/appointments", headers=headers, timeout=30)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    first, third = appointments(1), appointments(3)
    assert first
    assert third
    assert [a["AptDateTime"] for a in first] != [a["AptDateTime"] for a in third]
    counts = httpx.get(f"{group.root_url}/_simulator/visits", params={"practice": 3}).json()
    assert counts["appointments"] >= len(third)
