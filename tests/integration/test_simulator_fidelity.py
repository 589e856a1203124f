"""The simulator follows Open Dental's own queries and documented rules, over real HTTP.

Sources: ``Patients.GetPatientsSimpleForApi`` (Simple), ``Patients.GetPtDataTable`` (the
Patient Select search behind ``GET /patients``), ``Patients.Delete``, and the write rules of
the apipatients page. docs/simulator.md lists each behaviour with its source.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from odbridge.simulator.generate import generate_practice
from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.settings import SimulatorSettings
from tests.helpers import CUST_KEY, DEV_KEY, HEADERS, SimulatorFactory

pytestmark = pytest.mark.integration


def api(sim: SimulatorServer) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, headers=HEADERS, timeout=30)


def every_page(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = client.get(path, params={**params, "Limit": 100, "Offset": len(rows)}).json()
        rows.extend(page)
        if len(page) < 100:
            return rows


# -- GET /patients/Simple ----------------------------------------------------------------
def test_simple_leaves_out_deleted_patients_but_the_single_get_still_has_them(
    simulator: SimulatorServer,
) -> None:
    for pat_num in (12, 40, 41):
        simulator.event("delete", {"PatNum": pat_num})
    with api(simulator) as client:
        simple = every_page(client, "/patients/Simple")
        since = client.get("/patients/Simple", params={"DateTStamp": "2000-01-01 00:00:00"})
        single = client.get("/patients/12").json()
    everyone = simulator.all_patients()
    assert len(simple) == len(everyone) - 3
    assert [r["PatNum"] for r in simple] == [
        p["PatNum"] for p in everyone if p["PatStatus"] != "Deleted"
    ]
    assert 12 not in {r["PatNum"] for r in since.json()}
    assert single["PatStatus"] == "Deleted"


def test_before_21_4_simple_returned_deleted_patients(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(od_version="21.3")
    sim.event("delete", {"PatNum": 12})
    with api(sim) as client:
        simple = every_page(client, "/patients/Simple")
    assert [r["PatNum"] for r in simple] == [p["PatNum"] for p in sim.all_patients()]
    assert next(r for r in simple if r["PatNum"] == 12)["PatStatus"] == "Deleted"


def test_simple_name_filters_are_case_insensitive_contains(simulator: SimulatorServer) -> None:
    live = simulator.live_patients()
    target = next(p for p in live if len(p["LName"]) >= 5)
    part = target["LName"][1:4].upper()  # from the middle of the name, in capitals
    first_part = target["FName"][1:3].swapcase()
    with api(simulator) as client:
        rows = every_page(client, "/patients/Simple", LName=part)
        both = every_page(client, "/patients/Simple", LName=part, FName=first_part)
    assert [r["PatNum"] for r in rows] == [
        p["PatNum"] for p in live if part.lower() in p["LName"].lower()
    ]
    assert target["PatNum"] in {r["PatNum"] for r in both}
    assert all(first_part.lower() in r["FName"].lower() for r in both)


def test_simple_date_t_stamp_is_inclusive_and_every_row_has_one_server_time_first(
    simulator: SimulatorServer,
) -> None:
    newest = max(simulator.live_patients(), key=lambda p: p["DateTStamp"])
    with api(simulator) as client:
        rows = client.get("/patients/Simple", params={"DateTStamp": newest["DateTStamp"]}).json()
        page = client.get("/patients/Simple", params={"Limit": 50}).json()
    assert newest["PatNum"] in {r["PatNum"] for r in rows}
    assert all(r["DateTStamp"] >= newest["DateTStamp"] for r in rows)
    assert {next(iter(r)) for r in page} == {"serverDateTime"}
    assert len({r["serverDateTime"] for r in page}) == 1


# -- GET /patients (Patient Select) ---------------------------------------------------------
def test_search_hides_archived_and_deceased_unless_show_archived(
    simulator: SimulatorServer,
) -> None:
    statuses = {p["PatNum"]: p["PatStatus"] for p in simulator.all_patients()}
    assert "Deceased" in statuses.values()
    with api(simulator) as client:
        shown = {r["PatNum"] for r in every_page(client, "/patients")}
        archived = {r["PatNum"] for r in every_page(client, "/patients", showArchived="true")}
        active = {r["PatNum"] for r in every_page(client, "/patients", hideInactive="true")}
    hidden = {"Deleted", "Archived", "Deceased"}
    assert shown == {n for n, s in statuses.items() if s not in hidden}
    assert archived == {n for n, s in statuses.items() if s != "Deleted"}
    assert active == {n for n, s in statuses.items() if s not in hidden | {"Inactive"}}


def create(client: httpx.Client, **values: Any) -> dict[str, Any]:
    response = client.post("/patients", json=values)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def test_search_matches_prefixes_contains_and_phone_digits(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        pat = create(
            client,
            LName="Quillfeather",
            FName="Orla",
            SSN="555443333",
            Email="orla.q@example.org",
            WirelessPhone="(971)555-0188",
            City="Tigard",
            ClinicNum=0,
        )["PatNum"]

        def found(**params: Any) -> bool:
            return pat in {r["PatNum"] for r in every_page(client, "/patients", **params)}

        assert found(LName="quill")
        assert not found(LName="feather")
        assert found(SSN="5554")
        assert not found(SSN="4433")
        assert found(City="TIG")
        assert not found(City="gard")
        assert found(Email="Q@EXAMPLE")  # contains
        assert found(Phone="555-0188")
        assert found(Phone="19715550188")
        assert found(clinicNums="2,3")  # ClinicNum 0 is always included
        assert not found(LName="quill", clinicAbbr="D")  # no clinic: no abbreviation


def test_search_clinic_abbr_is_a_prefix_and_country_a_contains(
    simulator: SimulatorServer,
) -> None:
    pat = next(p["PatNum"] for p in simulator.all_patients() if p["PatStatus"] == "Patient")
    # Country is a database column the API never sends: set it as a database tool would.
    simulator.event("bad-row", {"PatNum": pat, "field": "Country", "value": "Canada"})
    with api(simulator) as client:
        country = {r["PatNum"] for r in every_page(client, "/patients", Country="ANAD")}
        east = every_page(client, "/patients", clinicAbbr="east")
    assert pat in country
    assert east
    assert {r["clinicAbbr"] for r in east} == {"Eastside"}


def test_search_puts_exact_matches_first(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        near = create(client, LName="Aardvark", FName="Near", WirelessPhone="(503)555-7171")
        exact = create(client, LName="Zyzzyva", FName="Exact", WirelessPhone="5035557171")
        rows = client.get("/patients", params={"Phone": "5035557171"}).json()
    assert [r["PatNum"] for r in rows][:2] == [exact["PatNum"], near["PatNum"]]


# -- POST / PUT: the documented write rules ---------------------------------------------------
@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"LName": ""}, "LName"),
        ({"FName": "  "}, "FName"),
        ({"PatStatus": "Deleted"}, "PatStatus"),
        ({"Gender": "Other"}, "Gender"),
        ({"Zip": "9730"}, "Zip"),
        ({"Zip": "97301-12"}, "Zip"),
        ({"Guarantor": 1, "SuperFamily": 1}, "SuperFamily"),
        ({"ChartNumber": "1234567890123456"}, "ChartNumber"),
        ({"BillingType": "No Such Type"}, "BillingType"),
    ],
)
def test_put_refuses_what_the_documentation_forbids(
    simulator: SimulatorServer, body: dict[str, Any], word: str
) -> None:
    with api(simulator) as client:
        before = client.get("/patients/5").json()
        response = client.put("/patients/5", json=body)
        after = client.get("/patients/5").json()
    assert response.status_code == 400
    assert word in response.json()
    assert after == before


def test_put_accepts_the_documented_zip_forms_and_billing_type_names(
    simulator: SimulatorServer,
) -> None:
    with api(simulator) as client:
        for zip_code in ("97301", "97301-1234", "973011234", "K1A 0B1", ""):
            response = client.put("/patients/5", json={"Zip": zip_code})
            assert response.status_code == 200, zip_code
            assert response.json()["Zip"] == zip_code
        billing = client.put("/patients/5", json={"BillingType": "insurance only"})
    assert billing.json()["BillingType"] == "Insurance Only"


def test_a_deleted_patient_cannot_be_modified(simulator: SimulatorServer) -> None:
    simulator.event("delete", {"PatNum": 7})
    with api(simulator) as client:
        response = client.put("/patients/7", json={"Email": "new@example.com"})
    assert response.status_code == 400
    assert "Deleted" in response.json()


def test_read_only_fields_are_not_written(simulator: SimulatorServer) -> None:
    with api(simulator) as client:
        before = client.get("/patients/5").json()
        after = client.put(
            "/patients/5",
            json={"EstBalance": 999.99, "ImageFolder": "Elsewhere", "MiddleI": "Q"},
        ).json()
    assert (after["EstBalance"], after["ImageFolder"]) == (
        before["EstBalance"],
        before["ImageFolder"],
    )
    assert after["MiddleI"] == "Q"


def test_post_refuses_a_duplicate_patient(simulator: SimulatorServer) -> None:
    person = {"LName": "Doubleday", "FName": "Dana", "Birthdate": "1980-04-05"}
    with api(simulator) as client:
        create(client, **person, Email="dana@example.com")
        same_email = client.post("/patients", json={**person, "Email": "DANA@example.com"})
        same_phone_first = create(client, **{**person, "FName": "Dale"}, HmPhone="503-555-0101")
        same_phone = client.post(
            "/patients", json={**person, "FName": "Dale", "WirelessPhone": "(503)555-0101"}
        )
        other_birthdate = client.post(
            "/patients", json={**person, "Birthdate": "1981-04-05", "Email": "dana@example.com"}
        )
    assert same_email.status_code == 400
    assert same_phone_first["FName"] == "Dale"
    assert same_phone.status_code == 400
    assert other_birthdate.status_code == 201


# -- DateTStamp moves only on a real change ---------------------------------------------------
class Clock:
    """A server clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, 0)
        self.readings = 0

    def __call__(self) -> datetime:
        self.readings += 1
        return self.now


def simulator_with(clock: Clock) -> SimulatorServer:
    practice = generate_practice(50, seed=3, clock=clock, today=clock.now.date())
    settings = SimulatorSettings(
        patients=50, developer_key=DEV_KEY, customer_key=CUST_KEY, rate_interval=0
    )
    return SimulatorServer(settings, practice)


def test_simple_reads_the_server_clock_once_per_request() -> None:
    clock = Clock()
    with simulator_with(clock) as sim, api(sim) as client:
        before = clock.readings
        rows = client.get("/patients/Simple", params={"Limit": 30}).json()
        assert clock.readings == before + 1
    assert {r["serverDateTime"] for r in rows} == {"2026-03-02 09:00:00"}


def test_date_t_stamp_moves_only_when_a_value_changes() -> None:
    clock = Clock()
    with simulator_with(clock) as sim, api(sim) as client:
        first = client.put("/patients/5", json={"Email": "same@example.com"}).json()
        clock.now += timedelta(hours=1)
        same = client.put("/patients/5", json={"Email": "same@example.com"}).json()
        clock.now += timedelta(hours=1)
        changed = client.put("/patients/5", json={"Email": "other@example.com"}).json()
    assert first["DateTStamp"] == "2026-03-02 09:00:00"
    assert same["DateTStamp"] == first["DateTStamp"]
    assert changed["DateTStamp"] == "2026-03-02 11:00:00"
