"""Visits synced from the simulator over real HTTP: every resource equals the source, the
front desk's changes (completions, deletions, vanished recalls) arrive incrementally, a run
stopped half-way resumes, and the KPIs equal a count made from the source itself."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from odbridge.api.client import Client
from odbridge.dashboard.queries.visit_kpis import compute_kpis, months_before
from odbridge.simulator.server import SimulatorServer
from odbridge.store.schema import patients
from odbridge.store.schema_visits import appointments, procedure_logs, recalls
from odbridge.sync.engine import ResourceSync
from odbridge.sync.resources import PATIENTS
from odbridge.sync.visits import VisitOptions, sync_visits
from tests.helpers import CUST_KEY, DEV_KEY, SimulatorFactory, client_for, index_names

pytestmark = pytest.mark.integration

PRACTICE = "main"


def truth(sim: SimulatorServer, table: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{sim.root_url}/_simulator/visits/{table}", timeout=30)
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()
    return rows


def event(sim: SimulatorServer, name: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{sim.root_url}/_simulator/visits/events/{name}", json=body, timeout=30)
    response.raise_for_status()


def stored(store: Engine, table: Any, key: str) -> dict[int, Any]:
    with store.connect() as connection:
        rows = connection.execute(
            select(table).where(table.c.practice == PRACTICE, table.c.missing_since.is_(None))
        ).mappings()
        return {int(r[key]): dict(r) for r in rows}


def sync_all(store: Engine, client: Client, **options: Any) -> list[Any]:
    ResourceSync(store, client, PRACTICE, resource=PATIENTS).run()
    return sync_visits(store, client, PRACTICE, **options)


def test_visits_sync_equals_the_source_and_follows_the_front_desk(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=150)
    with client_for(sim) as client:
        summaries = sync_all(store, client)
        assert [s.outcome for s in summaries] == ["ok"] * len(summaries)
        assert {s.progress.resource for s in summaries} >= {
            "providers",
            "appointments",
            "procedure_logs",
            "recalls",
            "deleted_appointments",
        }
        window = VisitOptions().window_start
        source_apts = {
            a["AptNum"]: a
            for a in truth(sim, "appointments")
            if a["AptDateTime"][:10] >= str(window)
        }
        assert set(stored(store, appointments, "apt_num")) == set(source_apts)
        one = next(iter(source_apts.values()))
        mine = stored(store, appointments, "apt_num")[one["AptNum"]]
        assert mine["apt_status"] == one["AptStatus"]
        assert mine["apt_date_time"] == datetime.fromisoformat(one["AptDateTime"])
        source_procs = {p["ProcNum"]: p for p in truth(sim, "procedurelogs")}
        my_procs = stored(store, procedure_logs, "proc_num")
        assert set(my_procs) <= set(source_procs)
        assert all(my_procs[n]["proc_fee"] == Decimal(source_procs[n]["ProcFee"]) for n in my_procs)
        assert set(stored(store, recalls, "recall_num")) == {
            r["RecallNum"] for r in truth(sim, "recalls")
        }

        # the front desk: complete one, delete one, a recall vanishes
        scheduled = [a for a in truth(sim, "appointments") if a["AptStatus"] == "Scheduled"]
        event(sim, "complete", {"AptNum": scheduled[0]["AptNum"]})
        event(sim, "delete", {"AptNum": scheduled[1]["AptNum"]})
        gone_recall = truth(sim, "recalls")[0]["RecallNum"]
        event(sim, "delete-recall", {"RecallNum": gone_recall})
        quiet = sync_visits(store, client, PRACTICE)
        # an incremental round: the change queries only (whole reads are daily)
        assert {s.progress.resource for s in quiet} == {
            "providers",
            "appointments",
            "procedure_logs",
        }
        assert all(s.requests == 1 for s in quiet[:1])
        again = sync_visits(store, client, PRACTICE, reload_every=timedelta(0))
        modes = {s.progress.resource: str(s.mode) for s in again}
        assert modes["appointments"] == "incremental"
        assert modes["recalls"] == "full"  # no change filter: read whole
        now_stored = stored(store, appointments, "apt_num")
        assert now_stored[scheduled[0]["AptNum"]]["apt_status"] == "Complete"
        assert scheduled[1]["AptNum"] not in now_stored  # marked missing (deleted in OD)
        assert gone_recall not in stored(store, recalls, "recall_num")


def test_an_interrupted_visits_sync_resumes_where_it_stopped(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=150)
    declared = index_names(store)
    stop = threading.Event()

    def stop_after_first_page(progress: Any) -> None:
        if progress.resource == "appointments" and progress.pages >= 1:
            stop.set()

    with client_for(sim) as client:
        ResourceSync(store, client, PRACTICE, resource=PATIENTS).run()
        first = sync_visits(store, client, PRACTICE, stop=stop, on_progress=stop_after_first_page)
        assert str(first[-1].outcome) == "interrupted"
        assert first[-1].progress.resource == "appointments"
        stop.clear()
        second = sync_visits(store, client, PRACTICE)
    assert all(str(s.outcome) == "ok" for s in second)
    window = VisitOptions().window_start
    expected = {
        a["AptNum"] for a in truth(sim, "appointments") if a["AptDateTime"][:10] >= str(window)
    }
    assert set(stored(store, appointments, "apt_num")) == expected
    # the interrupted first load of appointments left its indexes to the end of the pass:
    # the resumed pass built them
    assert index_names(store) == declared


def test_kpis_after_a_sync_equal_a_count_from_the_source(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    sim = simulator_factory(patients=200)
    with client_for(sim) as client:
        sync_all(store, client)
    now = datetime.now().replace(microsecond=0)
    kpis = compute_kpis(store, PRACTICE, now=now)
    # the same figures from the simulator's own tables, in Python
    since = months_before(now, 18)
    status = {int(p["PatNum"]): p["PatStatus"] for p in source_patients(store)}
    apts = truth(sim, "appointments")
    window = VisitOptions().window_start
    seen = {
        a["PatNum"]
        for a in apts
        if a["AptStatus"] == "Complete"
        and since <= datetime.fromisoformat(a["AptDateTime"]) <= now
        and a["AptDateTime"][:10] >= str(window)
    }
    active = {n for n in seen if status.get(n) == "Patient"}
    booked = {
        a["PatNum"]
        for a in apts
        if a["AptStatus"] == "Scheduled" and datetime.fromisoformat(a["AptDateTime"]) >= now
    }
    assert kpis.active_patients == len(active)
    assert kpis.no_future_appointment == len(active - booked)
    first = now.date().replace(day=1)
    produced = sum(
        Decimal(p["ProcFee"]) * (p["UnitQty"] + p["BaseUnits"])
        for p in truth(sim, "procedurelogs")
        if p["ProcStatus"] == "C" and str(first) <= p["ProcDate"] <= str(now.date())
    )
    assert kpis.production[-1] == produced.quantize(Decimal("0.01"))
    overdue = Counter(
        r["PatNum"]
        for r in truth(sim, "recalls")
        if r["IsDisabled"] == "false"
        and r["DateDue"] != "0001-01-01"
        and r["DateDue"] < str(now.date())
        and r["DateScheduled"] == "0001-01-01"
        and (r["DisableUntilDate"] == "0001-01-01" or r["DisableUntilDate"] <= str(now.date()))
        and status.get(r["PatNum"]) == "Patient"
    )
    assert kpis.recall_overdue == len(overdue)
    assert kpis.active_patients > 0


def source_patients(store: Engine) -> list[dict[str, Any]]:
    with store.connect() as connection:
        return [
            {"PatNum": r.pat_num, "PatStatus": r.pat_status}
            for r in connection.execute(select(patients.c.pat_num, patients.c.pat_status))
        ]


def test_first_sync_estimate_is_said_in_requests_and_time() -> None:
    from odbridge.sync.visits import first_sync_estimate

    requests, seconds, rows = first_sync_estimate(
        10_000, history_years=3, page_size=100, interval=5.0
    )
    assert rows["appointments"] == 66_000
    assert requests == sum(n // 100 + 1 for n in rows.values()) + 7
    assert seconds == requests * 5.0
    assert date.today() - VisitOptions(history_years=1).window_start >= timedelta(days=365)


def test_patients_provider_names_follow_the_synced_providers(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    from sqlalchemy import update

    from odbridge.store.schema_visits import providers
    from odbridge.sync.visits import refresh_patient_names

    sim = simulator_factory(patients=60)
    with client_for(sim) as client:
        sync_all(store, client)
    with store.begin() as connection:
        prov = connection.execute(
            select(patients.c.pri_prov).where(patients.c.pri_prov.is_not(None)).limit(1)
        ).scalar_one()
        connection.execute(
            update(providers).where(providers.c.prov_num == prov).values(abbr="RENAMED")
        )
    assert refresh_patient_names(store, PRACTICE) > 0
    with store.connect() as connection:
        names = set(
            connection.execute(
                select(patients.c.pri_prov_abbr).where(patients.c.pri_prov == prov)
            ).scalars()
        )
    assert names == {"RENAMED"}
    assert refresh_patient_names(store, PRACTICE) == 0  # nothing left to change


def test_sync_visits_command_says_the_cost_first_then_syncs(
    simulator_factory: SimulatorFactory, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    sim = simulator_factory(patients=80)
    env = {
        **os.environ,
        "ODBRIDGE_DEVELOPER_KEY": DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": CUST_KEY,
        "ODBRIDGE_BASE_URL": sim.base_url,
        "ODBRIDGE_MODE": "remote",
        "ODBRIDGE_TIER": "full",
        "ODBRIDGE_RATE_INTERVAL": "0",
        "ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"),
        "COLUMNS": "200",
    }
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    odbridge = str(Path(sys.executable).with_name("odbridge"))
    args = [odbridge, "sync", "--visits", "--history-years", "2", "--db", db]
    first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "first visits sync, 2 years of appointments" in first.stderr
    assert "requests" in first.stderr
    assert "appointments" in first.stderr
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "first visits sync" not in second.stderr
    assert "incremental" in second.stderr


def test_patients_billing_type_names_follow_renamed_billing_types(
    simulator_factory: SimulatorFactory, store: Engine
) -> None:
    """The patient record has the billing type's name, not its DefNum, and a rename moves
    no DateTStamp: the next visits sync renames the patients' text from the definitions,
    swaps included, without a patient request."""
    sim = simulator_factory(patients=80)

    def rename(def_num: int, name: str) -> None:
        response = httpx.post(
            f"{sim.root_url}/_simulator/events/rename-definition",
            json={"DefNum": def_num, "ItemName": name},
            timeout=30,
        )
        response.raise_for_status()

    def held() -> Counter[str]:
        with store.connect() as connection:
            return Counter(
                connection.execute(
                    select(patients.c.billing_type).where(patients.c.practice == PRACTICE)
                ).scalars()
            )

    with client_for(sim) as client:
        sync_all(store, client)
        types = {d.item_name: d.def_num for d in client.definitions.list(category=4)}
        before = held()
        first, second = (name for name, _ in before.most_common(2))
        rename(types[first], "swap")  # first ↔ second, then a plain rename
        rename(types[second], first)
        rename(types[first], second)
        rename(types["Bad Debt"], "Written Off")
        summaries = sync_visits(store, client, PRACTICE, mode="full")
        after = held()
    assert after[second] == before[first]
    assert after[first] == before[second]
    assert after["Written Off"] == before["Bad Debt"]
    assert "Bad Debt" not in after
    done = next(s for s in summaries if "patients_billing_type_renamed" in s.extra)
    renamed = before[first] + before[second] + before["Bad Debt"]
    assert done.extra["patients_billing_type_renamed"] == renamed
    with client_for(sim) as client:
        fresh = Counter(p.billing_type for p in client.patients.list())
    assert +fresh == +after  # what Open Dental now says, without re-reading any patient
