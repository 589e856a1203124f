"""Control events that real practices produce, and the settings that shape a simulated group.

Renames of reference rows, deletions (also in the middle of a pass), a row the client's
models refuse, the documented 404 and transient 400, Enterprise paging, several practices.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from odbridge.api.errors import ResponseFormatError
from odbridge.api.models import Patient
from odbridge.simulator.app import NETWORK_MESSAGE, SIMPLE_NOT_FOUND_MESSAGE
from odbridge.simulator.server import SimulatorServer
from tests.helpers import DEV_KEY, HEADERS, SimulatorFactory, wait_for

pytestmark = pytest.mark.integration


def api(sim: SimulatorServer, headers: dict[str, str] = HEADERS) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, headers=headers, timeout=30)


def control(sim: SimulatorServer, path: str, body: Any = None) -> httpx.Response:
    return httpx.post(f"{sim.root_url}/_simulator/{path}", json=body, timeout=10)


@pytest.mark.parametrize(
    ("event", "body", "field", "select"),
    [
        ("rename-provider", {"ProvNum": 2, "Abbr": "DRNEW"}, "priProvAbbr", {"PriProv": 2}),
        ("rename-provider", {"ProvNum": 4, "Abbr": "HYGX"}, "secProvAbbr", {"SecProv": 4}),
        ("rename-clinic", {"ClinicNum": 2, "Abbr": "Lakeside"}, "clinicAbbr", {"ClinicNum": 2}),
        ("rename-definition", {"DefNum": 1, "ItemName": "Standard"}, "BillingType", {}),
        ("rename-site", {"SiteNum": 1, "Description": "Oak School"}, "siteDesc", {}),
    ],
)
def test_renaming_a_reference_row_changes_derived_text_without_moving_date_t_stamp(
    simulator: SimulatorServer,
    event: str,
    body: dict[str, Any],
    field: str,
    select: dict[str, int],
) -> None:
    new_name = next(v for k, v in body.items() if isinstance(v, str))
    before = {p["PatNum"]: p for p in simulator.all_patients()}
    with api(simulator) as client:
        cursor = client.get("/patients/Simple", params={"Limit": 1}).json()[0]["serverDateTime"]
        assert control(simulator, f"events/{event}", body).status_code == 200
        changed_since = client.get("/patients/Simple", params={"DateTStamp": cursor}).json()
        search = client.get("/patients", params={"showArchived": "true", **select}).json()
    after = {p["PatNum"]: p for p in simulator.all_patients()}
    renamed = [n for n in after if after[n][field] != before[n][field]]
    assert renamed  # some patients show the new name ...
    assert all(after[n][field] == new_name for n in renamed)
    assert all(after[n]["DateTStamp"] == before[n]["DateTStamp"] for n in after)  # ... unstamped
    assert [r for r in changed_since if r["PatNum"] in renamed] == []  # invisible to polling
    if select:
        assert {r[field] for r in search if r["PatNum"] in renamed} == {new_name}


def test_renaming_something_that_does_not_exist_is_refused(simulator: SimulatorServer) -> None:
    response = control(simulator, "events/rename-clinic", {"ClinicNum": 99, "Abbr": "X"})
    assert response.status_code == 400
    assert "no such clinic" in response.json()["error"]


def test_the_reference_tables_have_stable_keys(simulator: SimulatorServer) -> None:
    tables = httpx.get(f"{simulator.root_url}/_simulator/reference").json()
    # 6 and 7 (a retired dentist, a provider merged away), the hidden clinic and the
    # definitions of categories 2, 13 and 35 come with the visit history (visits_state.py)
    assert [p["prov_num"] for p in tables["providers"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [c["abbr"] for c in tables["clinics"]] == [
        "Downtown",
        "Eastside",
        "Westgate",
        "Northgate",
    ]
    assert {d["category"] for d in tables["definitions"]} == {2, 4, 13, 35}
    assert [d["def_num"] for d in tables["definitions"] if d["category"] == 4] == [1, 2, 3, 4, 5]
    assert [s["site_num"] for s in tables["sites"]] == [1, 2]


def test_deleting_resets_the_guarantor_and_the_patient_leaves_simple(
    simulator: SimulatorServer,
) -> None:
    member = next(p for p in simulator.live_patients() if p["Guarantor"] != p["PatNum"])
    assert control(simulator, "events/delete", {"PatNum": member["PatNum"]}).status_code == 200
    with api(simulator) as client:
        single = client.get(f"/patients/{member['PatNum']}").json()
        simple = client.get("/patients/Simple", params={"Guarantor": member["Guarantor"]}).json()
    assert single["PatStatus"] == "Deleted"
    assert single["Guarantor"] == member["PatNum"]
    assert single["DateTStamp"] > member["DateTStamp"]
    assert member["PatNum"] not in {r["PatNum"] for r in simple}


def test_deletions_in_the_middle_of_a_pass_shift_offset_paging(
    simulator: SimulatorServer,
) -> None:
    live_before = [p["PatNum"] for p in simulator.live_patients()]
    scheduled = control(simulator, "events/delete-later", {"after_requests": 1, "count": 3})
    assert scheduled.status_code == 201
    seen: list[int] = []
    with api(simulator) as client:
        while True:  # a naive pass: Offset = rows read so far
            page = client.get("/patients/Simple", params={"Limit": 50, "Offset": len(seen)})
            seen.extend(r["PatNum"] for r in page.json())
            if len(page.json()) < 50:
                break
    done = httpx.get(f"{simulator.root_url}/_simulator/events/delete-later").json()
    deleted = done[0]["deleted"]
    assert deleted == live_before[:3]  # the lowest live PatNums: rows the pass had read
    still_live = [n for n in live_before if n not in deleted]
    skipped = [n for n in still_live if n not in seen]
    assert len(skipped) == 3  # three live patients were never returned to this pass
    assert skipped == live_before[50:53]


def test_delete_later_by_pat_num_fires_after_the_given_request(
    simulator: SimulatorServer,
) -> None:
    body = {"after_requests": 2, "PatNums": [30, 31]}
    assert control(simulator, "events/delete-later", body).status_code == 201
    with api(simulator) as client:
        client.get("/patients/Simple", params={"Limit": 1})
        assert client.get("/patients/30").json()["PatStatus"] != "Deleted"
        client.get("/patients/Simple", params={"Limit": 1})
        assert client.get("/patients/30").json()["PatStatus"] == "Deleted"
        assert client.get("/patients/31").json()["PatStatus"] == "Deleted"
    assert control(simulator, "events/delete-later", {"after_requests": 1}).status_code == 400


def test_a_bad_row_reaches_the_client_as_is_and_its_models_refuse_it(
    simulator: SimulatorServer,
) -> None:
    pat = simulator.live_patients()[4]
    assert control(simulator, "events/bad-row", {"PatNum": pat["PatNum"]}).status_code == 200
    with api(simulator) as client:
        rows = client.get("/patients/Simple", params={"DateTStamp": pat["DateTStamp"]}).json()
    bad = next(r for r in rows if r["PatNum"] == pat["PatNum"])
    assert bad["Birthdate"] == "1985-13-45"
    assert bad["DateTStamp"] > pat["DateTStamp"]
    with pytest.raises(ResponseFormatError, match="Birthdate"):
        Patient.from_api(bad)
    refused = control(simulator, "events/bad-row", {"PatNum": 1, "field": "priProvAbbr"})
    assert refused.status_code == 400


def test_simple_may_answer_the_documented_404_and_a_transient_network_400(
    simulator: SimulatorServer,
) -> None:
    with api(simulator) as client:
        simulator.set_faults({"notfound404": 1.0})
        not_found = client.get("/patients/Simple")
        single = client.get("/patients/1")
        simulator.set_faults({"network400": 1.0})
        network = client.get("/patients/1")
        simulator.set_faults({})
        fine = client.get("/patients/Simple", params={"Limit": 1})
    assert (not_found.status_code, not_found.json()) == (404, SIMPLE_NOT_FOUND_MESSAGE)
    assert single.status_code == 200  # the 404 is a list answer only
    assert (network.status_code, network.json()) == (400, NETWORK_MESSAGE)
    assert fine.status_code == 200
    assert simulator.stats()["faults"] == {"notfound404": 1, "network400": 1}


def test_enterprise_pages_10000_rows_on_the_local_api(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(patients=10_300, tier="enterprise", mode="local")
    with api(sim) as client:
        page = client.get("/patients/Simple", params={"Limit": 20_000}).json()
    assert len(page) == 10_000


def test_the_moving_front_desk_also_deletes_patients(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(changes_per_minute=3000, delete_share=0.5)
    wait_for(lambda: sim.stats()["deletions"] >= 2, "deletions from the background traffic")
    deleted = [p for p in sim.all_patients() if p["PatStatus"] == "Deleted"]
    assert all(p["Guarantor"] == p["PatNum"] for p in deleted[-2:])


def test_one_process_serves_several_practices_each_with_its_key_data_and_throttle(
    simulator_factory: SimulatorFactory,
) -> None:
    group = simulator_factory(practices=3, customer_key="grp", rate_interval=5.0, patients=60)
    single = simulator_factory(customer_key="grp", patients=60)

    def headers(key: str) -> dict[str, str]:
        return {"Authorization": f"ODFHIR {DEV_KEY}/{key}", "Content-Type": "application/json"}

    answers = {}
    for number in (1, 2, 3):
        with api(group, headers(f"grp-{number}")) as client:
            answers[number] = client.get("/patients/Simple")  # first request: no wait
    with api(group, headers("grp-1")) as client:
        early = client.get("/patients/Simple")  # the same key again at once: throttled
    with api(group, headers("grp")) as client:
        unknown = client.get("/patients/Simple")
    assert [answers[n].status_code for n in (1, 2, 3)] == [200, 200, 200]
    assert early.status_code == 429
    assert unknown.status_code == 401
    names = {n: [r["LName"] for r in answers[n].json()] for n in (1, 2, 3)}
    assert names[1] != names[2] != names[3]
    assert group.all_patients(practice=1) == single.all_patients()  # practice 1: seed + 0
    assert group.all_patients(practice=2) != group.all_patients(practice=1)
    group.event("delete", {"PatNum": 5}, practice=2)
    assert group.all_patients(practice=2)[4]["PatStatus"] == "Deleted"
    assert group.all_patients(practice=1)[4] == single.all_patients()[4]  # untouched
