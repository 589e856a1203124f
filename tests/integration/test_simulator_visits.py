"""The simulator's visit endpoints over real HTTP: field order, ordering, filters, forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.settings import SimulatorSettings
from odbridge.simulator.visit_shape import APPOINTMENT_FIELDS, PROCEDURE_FIELDS, RECALL_FIELDS
from tests.helpers import CUST_KEY, DEV_KEY, HEADERS

pytestmark = pytest.mark.integration

DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    """One read-only practice of 200 patients for the whole module."""
    settings = SimulatorSettings(
        patients=200,
        seed=7,
        developer_key=DEV_KEY,
        customer_key=CUST_KEY,
        tier="full",
        rate_interval=0.0,
    )
    with SimulatorServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def appointments(sim: SimulatorServer) -> list[dict[str, Any]]:
    """Every appointment, read once through the API."""
    return get_all(sim, "/appointments")


@pytest.fixture(scope="module")
def procedures(sim: SimulatorServer) -> list[dict[str, Any]]:
    """Every procedure log, read once through the API."""
    return get_all(sim, "/procedurelogs")


_client = httpx.Client(headers=HEADERS, timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _client.close()


def get(sim: SimulatorServer, path: str, **params: Any) -> Any:
    response = _client.get(f"{sim.base_url}{path}", params=params)
    response.raise_for_status()
    return response.json()


def get_all(sim: SimulatorServer, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every row, page by page (Limit 100)."""
    rows: list[dict[str, Any]] = []
    while True:
        page = get(sim, path, Offset=len(rows), Limit=100, **params)
        rows.extend(page)
        if len(page) < 100:
            return rows


def status(sim: SimulatorServer, path: str, **params: Any) -> int:
    return _client.get(f"{sim.base_url}{path}", params=params).status_code


def truth(sim: SimulatorServer, table: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{sim.root_url}/_simulator/visits/{table}", timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def event(sim: SimulatorServer, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{sim.root_url}/_simulator/visits/events/{name}", json=body, timeout=30)


# -- appointments ------------------------------------------------------------------------
def test_appointments_in_order_with_server_time_first(
    sim: SimulatorServer, appointments: list[dict[str, Any]]
) -> None:
    rows = appointments
    assert len(rows) == len(truth(sim, "appointments")) > 300
    assert list(rows[0]) == ["serverDateTime", *APPOINTMENT_FIELDS]
    keys = [(r["AptDateTime"], r["AptNum"]) for r in rows]
    assert keys == sorted(keys)
    page = get(sim, "/appointments", Limit=100)
    assert len({r["serverDateTime"] for r in page}) == 1
    assert DATETIME.fullmatch(page[0]["serverDateTime"])
    assert page[0]["serverDateTime"] >= max(r["DateTStamp"] for r in rows)
    statuses = {r["AptStatus"] for r in rows}
    assert {"Complete", "Scheduled", "Planned", "Broken", "UnschedList"} <= statuses


def test_appointment_forms_and_no_values(
    sim: SimulatorServer, appointments: list[dict[str, Any]]
) -> None:
    rows = appointments
    scheduled = next(r for r in rows if r["AptStatus"] == "Scheduled")
    assert scheduled["DateTimeArrived"] == "0001-01-01 00:00:00"
    assert scheduled["colorOverride"] == "0,0,0"
    assert scheduled["TimeLocked"] in ("true", "false")
    assert isinstance(scheduled["Confirmed"], int)
    assert scheduled["confirmed"]
    unscheduled = next(r for r in rows if r["AptStatus"] == "UnschedList")
    assert unscheduled["Op"] == 0
    assert unscheduled["unschedStatus"] != ""
    planned = next(r for r in rows if r["AptStatus"] == "Planned")
    assert planned["Op"] == 0
    assert all(r["IsNewPatient"] in ("true", "false") for r in rows)
    assert any(r["IsNewPatient"] == "true" for r in rows)
    assert any(r["ProvNum"] != 0 and r["provAbbr"] == "DOC0" for r in rows)  # hidden provider


def test_appointment_filters(sim: SimulatorServer, appointments: list[dict[str, Any]]) -> None:
    rows = appointments
    pat_num = rows[0]["PatNum"]
    mine = get_all(sim, "/appointments", PatNum=pat_num)
    assert [r["AptNum"] for r in mine] == [r["AptNum"] for r in rows if r["PatNum"] == pat_num]
    broken = get_all(sim, "/appointments", AptStatus="broken")
    assert broken
    assert {r["AptStatus"] for r in broken} == {"Broken"}
    assert status(sim, "/appointments", AptStatus="Deleted") == 400
    op = next(r["Op"] for r in rows if r["Op"])
    assert {r["Op"] for r in get_all(sim, "/appointments", Op=op)} == {op}
    assert {r["AptStatus"] for r in get_all(sim, "/appointments", Op=0)} <= {
        "Planned",
        "UnschedList",
    }
    day = rows[len(rows) // 2]["AptDateTime"][:10]
    on_day = get_all(sim, "/appointments", date=day)
    assert on_day == [] or {r["AptDateTime"][:10] for r in on_day} == {day}
    assert len(on_day) == sum(1 for r in rows if r["AptDateTime"][:10] == day)
    first, last = rows[10]["AptDateTime"][:10], rows[60]["AptDateTime"][:10]
    span = get_all(sim, "/appointments", dateStart=first, dateEnd=last)
    assert [r["AptNum"] for r in span] == [
        r["AptNum"] for r in rows if first <= r["AptDateTime"][:10] <= last
    ]
    clinic = get_all(sim, "/appointments", ClinicNum=2)
    assert clinic
    assert {r["ClinicNum"] for r in clinic} == {2}
    typed = get_all(sim, "/appointments", AppointmentTypeNum=1)
    assert typed
    assert {r["AppointmentTypeNum"] for r in typed} == {1}
    assert status(sim, "/appointments", date="2024-13-45") == 400


def test_date_t_stamp_is_inclusive_and_accepts_a_bare_date(
    sim: SimulatorServer, appointments: list[dict[str, Any]]
) -> None:
    rows = appointments
    stamps = sorted(r["DateTStamp"] for r in rows)
    cursor = stamps[-5]
    changed = get_all(sim, "/appointments", DateTStamp=cursor)
    assert {r["AptNum"] for r in changed} == {
        r["AptNum"] for r in rows if r["DateTStamp"] >= cursor
    }
    assert any(r["DateTStamp"] == cursor for r in changed)
    day = cursor[:10]
    by_day = get_all(sim, "/appointments", DateTStamp=day)
    assert len(by_day) == sum(1 for r in rows if r["DateTStamp"] >= f"{day} 00:00:00")
    assert status(sim, "/appointments", DateTStamp="yesterday") == 400


def test_single_appointment_and_404(sim: SimulatorServer) -> None:
    row = get(sim, "/appointments", Limit=1)[0]
    single = get(sim, f"/appointments/{row['AptNum']}")
    assert list(single) == ["serverDateTime", *APPOINTMENT_FIELDS]
    assert {k: v for k, v in single.items() if k != "serverDateTime"} == {
        k: v for k, v in row.items() if k != "serverDateTime"
    }
    response = httpx.get(f"{sim.base_url}/appointments/99999999", headers=HEADERS)
    assert response.status_code == 404
    assert "not found" in response.json().lower()


def test_page_cap_applies(sim: SimulatorServer) -> None:
    assert len(get(sim, "/appointments", Limit=5000)) == 100
    assert len(get(sim, "/procedurelogs", Limit=5000)) == 100
    assert len(get(sim, "/appointments", Limit=7, Offset=3)) == 7
    assert status(sim, "/appointments", Offset=-1) == 400


# -- procedure logs ----------------------------------------------------------------------
def test_procedurelogs_newest_first_with_server_time_last(
    sim: SimulatorServer, procedures: list[dict[str, Any]]
) -> None:
    rows = procedures
    assert len(rows) == len(truth(sim, "procedurelogs"))
    assert list(rows[0]) == [*PROCEDURE_FIELDS, "serverDateTime"]
    nums = [r["ProcNum"] for r in rows]
    assert nums == sorted(nums, reverse=True)
    assert all(re.fullmatch(r"\d+\.\d{2}", r["ProcFee"]) for r in rows)
    assert all(isinstance(r["Discount"], float) for r in rows)
    assert any(r["ProcFee"] != "0.00" and r["ProcFee"].endswith(".00") for r in rows)
    assert {r["ProcStatus"] for r in rows} >= {"TP", "C", "EO", "D"}
    assert all(r["AptNum"] == 0 for r in rows if r["ProcStatus"] == "D")
    assert re.fullmatch(r"D\d{4}", rows[0]["procCode"])


def test_procedurelog_filters_and_single(
    sim: SimulatorServer, procedures: list[dict[str, Any]]
) -> None:
    rows = procedures
    attached = next(r for r in rows if r["AptNum"])
    by_apt = get_all(sim, "/procedurelogs", AptNum=attached["AptNum"])
    assert by_apt
    assert {r["AptNum"] for r in by_apt} == {attached["AptNum"]}
    pat = get_all(sim, "/procedurelogs", PatNum=attached["PatNum"])
    assert len(pat) == sum(1 for r in rows if r["PatNum"] == attached["PatNum"])
    planned = next(r for r in rows if r["PlannedAptNum"])
    on_plan = get_all(sim, "/procedurelogs", PlannedAptNum=planned["PlannedAptNum"])
    assert {r["PlannedAptNum"] for r in on_plan} == {planned["PlannedAptNum"]}
    for name, value in (("ProcStatus", "TPi"), ("ClinicNum", 3), ("CodeNum", attached["CodeNum"])):
        found = get_all(sim, "/procedurelogs", **{name: value})
        assert found
        assert {r[name] for r in found} == {value}
    assert status(sim, "/procedurelogs", ProcStatus="X") == 400
    cursor = sorted(r["DateTStamp"] for r in rows)[-20]
    since = get_all(sim, "/procedurelogs", DateTStamp=cursor)
    assert len(since) == sum(1 for r in rows if r["DateTStamp"] >= cursor)
    single = get(sim, f"/procedurelogs/{attached['ProcNum']}")
    assert list(single)[-1] == "serverDateTime"
    assert single["ProcFee"] == attached["ProcFee"]
    assert status(sim, "/procedurelogs/99999999") == 404


# -- recalls -----------------------------------------------------------------------------
def test_recalls_in_order_with_disabled_ones(sim: SimulatorServer) -> None:
    rows = get_all(sim, "/recalls")
    assert list(rows[0]) == list(RECALL_FIELDS)
    nums = [r["RecallNum"] for r in rows]
    assert nums == sorted(nums)
    assert any(r["IsDisabled"] == "true" for r in rows)
    assert any(r["DateScheduled"] != "0001-01-01" for r in rows)
    assert all(isinstance(r["DisableUntilBalance"], float) for r in rows)
    pat_num = rows[0]["PatNum"]
    assert get(sim, "/recalls", PatNum=pat_num) == [r for r in rows if r["PatNum"] == pat_num]
    assert status(sim, "/recalls", PatNum=99999999) == 404
    types = get(sim, "/recalltypes")
    assert [t["RecallTypeNum"] for t in types] == sorted(t["RecallTypeNum"] for t in types)
    assert {"Prophy", "Perio"} <= {t["Description"] for t in types}
    assert status(sim, "/recalltypes/999") == 404


def test_recall_list(sim: SimulatorServer) -> None:
    recalls = {r["RecallNum"]: r for r in get_all(sim, "/recalls")}
    patients = {p["PatNum"]: p for p in sim.all_patients()}
    listed = get_all(sim, "/recalls/List", IncludeReminded="true")
    assert listed
    assert list(listed[0]) == [
        "DueDate",
        "PatNum",
        "Patient",
        "Age",
        "Type",
        "Interval",
        "NumRemind",
        "LastRemind",
        "Contact",
        "Status",
        "ClinicNum",
        "Note",
    ]
    for row in listed:
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", row["DueDate"])
        assert patients[row["PatNum"]]["PatStatus"] == "Patient"
        month, day, year = (int(x) for x in row["DueDate"].split("/"))
        due = f"{year:04d}-{month:02d}-{day:02d}"
        matching = [
            r for r in recalls.values() if r["PatNum"] == row["PatNum"] and r["DateDue"] == due
        ]
        assert matching
        assert matching[0]["IsDisabled"] == "false"
        assert matching[0]["DateScheduled"] == "0001-01-01"
    assert any(r["NumRemind"] for r in listed)
    quiet = get_all(sim, "/recalls/List")
    assert len(quiet) < len(listed)
    assert not any(r["NumRemind"] for r in quiet)
    perio = get_all(sim, "/recalls/List", RecallType="Perio", IncludeReminded="true")
    assert {r["Type"] for r in perio} <= {"Perio"}
    assert status(sim, "/recalls/List", RecallType="Nope") == 400


def test_the_client_reads_the_recall_list_with_its_dates_parsed(sim: SimulatorServer) -> None:
    from datetime import date

    from odbridge.api.client import Client

    raw = get_all(sim, "/recalls/List", IncludeReminded="true", RecallType="Prophy")
    with Client(
        DEV_KEY, CUST_KEY, base_url=sim.base_url, mode="remote", tier="full", env={}
    ) as client:
        rows = list(client.recall_list.list(include_reminded=True, recall_type="Prophy"))
        assert [r.to_api_dict() for r in rows] == raw  # M/d/yyyy and "" round-trip
        for row, sent in zip(rows, raw, strict=True):
            month, day, year = (int(x) for x in sent["DueDate"].split("/"))
            assert row.due_date == date(year, month, day)
            assert row.num_remind == (int(sent["NumRemind"]) if sent["NumRemind"] else None)
            assert (row.last_remind is None) == (sent["LastRemind"] == "")
        assert any(r.num_remind for r in rows)
        due = sorted(r.due_date for r in rows if r.due_date is not None)
        start, end = due[len(due) // 4], due[3 * len(due) // 4]
        window = list(client.recall_list.list(date_start=start, date_end=end))
        assert window
        assert all(start <= r.due_date <= end for r in window if r.due_date is not None)
        assert not any(r.num_remind for r in window)  # reminded ones only when asked


# -- reference tables --------------------------------------------------------------------
def test_providers_both_query_modes(sim: SimulatorServer) -> None:
    everyone = get(sim, "/providers")
    assert list(everyone[0])[-1] == "serverDateTime"
    assert len(everyone[0]) == 24
    assert DATETIME.fullmatch(everyone[0]["serverDateTime"])
    assert [p["ProvNum"] for p in everyone] == sorted(p["ProvNum"] for p in everyone)
    assert any(p["IsHidden"] == "true" for p in everyone)
    assert any(p["ProvStatus"] == "Deleted" for p in everyone)
    assert any(p["IsSecondary"] == "true" for p in everyone)
    clinic = get(sim, "/providers", ClinicNum=1)
    assert clinic
    assert all(p["serverDateTime"] == "" for p in clinic)
    assert all(p["IsHidden"] == "false" for p in clinic)
    assert len(get(sim, "/providers", ClinicNum=2)) != len(clinic)  # one works at clinic 2 only
    assert status(sim, "/providers", ClinicNum=999) == 404
    stamp = max(p["DateTStamp"] for p in everyone)
    assert len(get(sim, "/providers", DateTStamp=stamp)) == sum(
        1 for p in everyone if p["DateTStamp"] == stamp
    )
    assert get(sim, "/providers", DateTStamp="2999-01-01 00:00:00") == []
    assert get(sim, f"/providers/{everyone[0]['ProvNum']}")["Abbr"] == everyone[0]["Abbr"]
    assert status(sim, "/providers/999") == 404


def test_clinics_definitions_operatories_appointment_types(sim: SimulatorServer) -> None:
    clinics = get(sim, "/clinics")
    assert len(clinics) >= 2
    assert all(c["IsHidden"] == "false" for c in clinics)
    assert len(clinics[0]) == 20
    assert next(iter(clinics[0])) == "ClinicNum"
    confirmed = get(sim, "/definitions", Category=2)
    assert confirmed
    assert all(d["Category"] == 2 for d in confirmed)
    assert list(confirmed[0]) == [
        "DefNum",
        "ItemName",
        "ItemValue",
        "Category",
        "category",
        "isHidden",
    ]
    assert confirmed[0]["category"] == "ApptConfirmed"
    with_hidden = get(sim, "/definitions", Category=2, includeHidden="true")
    assert len(with_hidden) == len(confirmed) + 1
    assert {d["isHidden"] for d in confirmed} == {"false"}
    assert get(sim, "/definitions", Category=13)
    assert {d["Category"] for d in get(sim, "/definitions")} >= {2, 4, 13}
    ops = get(sim, "/operatories")
    assert [o["OperatoryNum"] for o in ops] == sorted(o["OperatoryNum"] for o in ops)
    assert any(o["IsHidden"] == "true" for o in ops)
    assert {o["ClinicNum"] for o in get(sim, "/operatories", ClinicNum=2)} == {2}
    assert get(sim, f"/operatories/{ops[0]['OperatoryNum']}") == ops[0]
    assert status(sim, "/operatories/999") == 404
    types = get(sim, "/appointmenttypes")
    assert any(t["IsHidden"] == "true" for t in types)
    assert all(t["RequiredProcCodesNeeded"] in ("None", "AtLeastOne", "All") for t in types)


def test_every_visit_endpoint_needs_authentication(sim: SimulatorServer) -> None:
    for path in ("/appointments", "/procedurelogs", "/recalls", "/providers", "/clinics"):
        response = httpx.get(f"{sim.base_url}{path}", headers={"Content-Type": "application/json"})
        assert response.status_code == 401, path
