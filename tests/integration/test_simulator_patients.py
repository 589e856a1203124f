"""The simulator's patient endpoints over real HTTP: shapes, paging, filters, writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.shape import PATIENT_FIELDS, SUMMARY_FIELDS
from tests.helpers import HEADERS, SettableClock, SimulatorFactory

pytestmark = pytest.mark.integration


def api(sim: SimulatorServer) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, headers=HEADERS, timeout=30)


def test_simple_rows_have_server_date_time_first_then_the_48_fields_in_order(
    simulator: SimulatorServer,
) -> None:
    with api(simulator) as client:
        rows = client.get("/patients/Simple", params={"Limit": 5}).json()
    assert len(rows) == 5
    for row in rows:
        assert list(row) == ["serverDateTime", *PATIENT_FIELDS]
        assert len(PATIENT_FIELDS) == 48
        datetime.strptime(row["serverDateTime"], "%Y-%m-%d %H:%M:%S")


def test_single_get_has_the_48_fields_and_404_when_absent(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        record = client.get("/patients/3").json()
        missing = client.get("/patients/999999")
        invalid = client.get("/patients/abc")
    assert list(record) == list(PATIENT_FIELDS)
    assert record["PatNum"] == 3
    assert missing.status_code == 404
    assert missing.json() == "Patient not found."
    assert invalid.status_code == 400


def test_field_types_and_formats_are_as_documented(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        rows = client.get("/patients/Simple", params={"Limit": 100}).json()
    for row in rows:
        assert isinstance(row["PatNum"], int)
        for name in ("Guarantor", "PriProv", "SecProv", "FeeSched", "EmployerNum", "ClinicNum"):
            assert isinstance(row[name], int)
        assert isinstance(row["EstBalance"], int | float)
        assert row["Premed"] in ("true", "false")
        for name in ("Birthdate", "DateFirstVisit", "AdmitDate", "SecDateEntry"):
            datetime.strptime(row[name], "%Y-%m-%d")
        datetime.strptime(row["DateTStamp"], "%Y-%m-%d %H:%M:%S")
        assert row["Guarantor"] > 0
    # The "no value" forms appear the way Open Dental stores them.
    assert any(row["AdmitDate"] == "0001-01-01" for row in rows)
    assert any(row["Email"] == "" for row in rows)


def page_through(client: httpx.Client, path: str, limit: int, **params: Any) -> list[Any]:
    rows: list[Any] = []
    offset = 0
    while True:
        page = client.get(path, params={**params, "Limit": limit, "Offset": offset}).json()
        rows.extend(page)
        if len(page) < limit:
            return rows
        offset += len(page)


def test_paging_reaches_the_last_of_10000_patients(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(patients=10_000, mode="local")
    with api(sim) as client:
        rows = page_through(client, "/patients/Simple", 1000)
    pat_nums = [row["PatNum"] for row in rows]
    assert pat_nums == [p["PatNum"] for p in sim.live_patients()]
    assert pat_nums[-1] == 10_000


def test_remote_mode_caps_pages_at_100(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(patients=250)
    with api(sim) as client:
        capped = client.get("/patients/Simple", params={"Limit": 1000}).json()
        default = client.get("/patients/Simple").json()
        last = client.get("/patients/Simple", params={"Limit": 100, "Offset": 200}).json()
        search = client.get("/patients", params={"Limit": 500}).json()
    assert len(capped) == 100
    assert len(default) == 100
    live = [p["PatNum"] for p in sim.live_patients()]
    assert [r["PatNum"] for r in last] == live[200:]
    assert len(search) == 100


def test_local_mode_caps_pages_at_1000(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(patients=1500, page_limit=1000)
    assert sim.settings.mode == "local"
    assert sim.settings.interval == 0
    with api(sim) as client:
        assert len(client.get("/patients/Simple", params={"Limit": 5000}).json()) == 1000


def test_bad_parameters_get_400_with_the_format(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        stamp = client.get("/patients/Simple", params={"DateTStamp": "2024-01-01"})
        limit = client.get("/patients/Simple", params={"Limit": "ten"})
        status = client.get("/patients/Simple", params={"PatStatus": "Sleeping"})
    assert stamp.status_code == 400
    assert stamp.json() == "DateTStamp format must be yyyy-MM-dd HH:mm:ss"
    assert limit.status_code == 400
    assert status.status_code == 400


def test_documented_example_requests(simulator: SimulatorServer) -> None:
    """Example request strings in the style of Open Dental's documentation."""
    with api(simulator) as client:
        first = client.get("/patients/1").json()
        lname = first["LName"][:3]
        by_name = client.get(f"/patients/Simple?LName={lname}&Offset=0").json()
        by_status = client.get("/patients/Simple?PatStatus=Patient&ClinicNum=1").json()
        since = client.get("/patients/Simple?DateTStamp=2020-07-30%2012:33:01").json()
        search = client.get(f"/patients?LName={lname}&hideInactive=true").json()
    assert by_name
    assert all(lname.lower() in r["LName"].lower() for r in by_name)
    assert by_status
    assert all(r["PatStatus"] == "Patient" and r["ClinicNum"] == 1 for r in by_status)
    assert all(r["DateTStamp"] >= "2020-07-30 12:33:01" for r in since)
    assert all(r["PatStatus"] != "Inactive" for r in search)


def test_simple_filters_match_exactly(simulator: SimulatorServer) -> None:
    everyone = simulator.live_patients()
    with api(simulator) as client:
        for name, value in (("Guarantor", 1), ("PriProv", 2), ("Gender", "Female")):
            rows = page_through(client, "/patients/Simple", 100, **{name: value})
            expected = [p["PatNum"] for p in everyone if p[name] == value]
            assert [r["PatNum"] for r in rows] == expected
            assert expected


def test_search_returns_reduced_rows_by_name_without_deleted_archived_or_deceased(
    simulator: SimulatorServer,
) -> None:
    everyone = simulator.all_patients()
    with api(simulator) as client:
        rows = page_through(client, "/patients", 100)
        with_archived = page_through(client, "/patients", 100, showArchived="true")
    assert all(list(r) == list(SUMMARY_FIELDS) for r in rows)
    keys = [(r["LName"].lower(), r["FName"].lower(), r["PatNum"]) for r in rows]
    assert keys == sorted(keys)
    statuses = {p["PatNum"]: p["PatStatus"] for p in everyone}
    shown = {r["PatNum"] for r in rows}
    assert shown == {n for n, s in statuses.items() if s not in ("Deleted", "Archived", "Deceased")}
    assert {r["PatNum"] for r in with_archived} == {
        n for n, s in statuses.items() if s != "Deleted"
    }


def test_search_by_phone_digits(simulator: SimulatorServer) -> None:
    target = next(p for p in simulator.all_patients() if len(p["WirelessPhone"]) >= 10)
    digits = "".join(c for c in target["WirelessPhone"] if c.isdigit())
    with api(simulator) as client:
        rows = client.get("/patients", params={"Phone": digits[-7:]}).json()
    assert target["PatNum"] in {r["PatNum"] for r in rows}


def test_update_bumps_date_t_stamp_and_is_found_again_through_server_date_time(
    simulator_factory: SimulatorFactory,
) -> None:
    clock = SettableClock(datetime(2026, 3, 2, 9, 30, 0))
    simulator = simulator_factory(clock=clock)
    with api(simulator) as client:
        cursor = client.get("/patients/Simple", params={"Limit": 1}).json()[0]["serverDateTime"]
        assert cursor == "2026-03-02 09:30:00"
        clock.advance(1)  # DateTStamp has one-second resolution
        updated = client.put("/patients/5", json={"Email": "new.address@example.com"})
        assert updated.status_code == 200
        assert updated.json()["Email"] == "new.address@example.com"
        assert updated.json()["DateTStamp"] > cursor
        changed = client.get("/patients/Simple", params={"DateTStamp": cursor}).json()
    assert [r["PatNum"] for r in changed] == [5]
    assert changed[0]["Email"] == "new.address@example.com"


def test_create_makes_a_patient_with_defaults(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        created = client.post(
            "/patients", json={"LName": "Newman", "FName": "Ada", "Birthdate": "1990-02-03"}
        )
        assert created.status_code == 201
        record = created.json()
        fetched = client.get(created.headers["Location"]).json()
        refused = client.post("/patients", json={"FName": "NoLastName"})
        bad_enum = client.post("/patients", json={"LName": "A", "FName": "B", "Gender": "X"})
    assert list(record) == list(PATIENT_FIELDS)
    assert record["PatNum"] == 201
    assert record["Guarantor"] == 201
    assert fetched == record
    assert refused.status_code == 400
    assert "LName" in refused.json()
    assert bad_enum.status_code == 400


def test_delete_is_refused(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        response = client.delete("/patients/1")
        still_there = client.get("/patients/1")
    assert response.status_code == 405
    assert "cannot be deleted" in response.json()
    assert still_there.status_code == 200
