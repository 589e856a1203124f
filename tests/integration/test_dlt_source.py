"""The dlt source: the simulator over loopback HTTP → a dlt pipeline → DuckDB in tmp_path."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import httpx
import pytest
from dlt.pipeline.pipeline import Pipeline

from odbridge.api.client import Client
from odbridge.config import ConfigError
from odbridge.integrations.dlt import CURSOR_COLUMN, REJECTED_TABLE, opendental
from odbridge.simulator.server import SimulatorServer
from odbridge.store.schema import PATIENT_FIELD_NAMES
from tests.helpers import (
    CUST_KEY,
    DEV_KEY,
    SettableClock,
    SimulatorFactory,
    expected_row,
    source_rows,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt reports anonymous usage to dlthub by default; the tests send nothing out."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


PACE = 0.01
"""Seconds between requests, in the simulator and the client: paced, but fast."""


def client_for(sim: SimulatorServer, customer_key: str = CUST_KEY) -> Client:
    return Client(
        DEV_KEY,
        customer_key,
        base_url=sim.base_url,
        mode="remote",
        tier="full",
        rate_interval=PACE,
        trust_env=False,
    )


def pipeline_in(tmp_path: Path, name: str = "practice_test") -> Pipeline:
    return dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(tmp_path / "od.duckdb")),
        dataset_name="opendental",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def query(tmp_path: Path, sql: str, *params: object) -> list[dict[str, Any]]:
    with duckdb.connect(str(tmp_path / "od.duckdb"), read_only=True) as connection:
        cursor = connection.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def loaded_patients(tmp_path: Path) -> dict[int, dict[str, Any]]:
    columns = ", ".join(PATIENT_FIELD_NAMES)
    rows = query(tmp_path, f"SELECT {columns} FROM opendental.patients")  # noqa: S608
    return {row["pat_num"]: row for row in rows}


def loaded(pipeline: Pipeline) -> dict[str, int]:
    """Rows the last run loaded, per table (dlt's own bookkeeping left out)."""
    trace = pipeline.last_trace
    assert trace is not None
    assert trace.last_normalize_info is not None
    counts = trace.last_normalize_info.row_counts
    return {name: n for name, n in counts.items() if not name.startswith("_dlt")}


def test_patients_load_field_by_field_then_only_the_changes_merge(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    server_clock = SettableClock(datetime(2031, 3, 9, 9, 0, 0))  # two passes, two seconds
    sim = simulator_factory(patients=150, rate_interval=PACE, clock=server_clock)
    pipeline = pipeline_in(tmp_path)
    with client_for(sim) as client:
        pipeline.run(opendental(client=client).with_resources("patients"))
        assert loaded(pipeline) == {"patients": 150}
        assert loaded_patients(tmp_path) == source_rows(sim)
        first_pass = query(
            tmp_path,
            f"SELECT DISTINCT {CURSOR_COLUMN} AS t FROM opendental.patients",  # noqa: S608
        )

        server_clock.advance(60)  # (on the real clock both passes could share a second)
        touched = sim.change(6)
        broken = next(n for n in range(1, 151) if n not in touched)
        sim.event("bad-row", {"PatNum": broken})  # a Birthdate the models refuse
        requests_before = client.stats.requests
        pipeline.run(opendental(client=client).with_resources("patients"))

    # only the changes were read (one page), and merged: no patient twice
    assert client.stats.requests - requests_before == 1
    assert loaded(pipeline) == {"patients": 6, REJECTED_TABLE: 1}
    patients = loaded_patients(tmp_path)
    assert len(patients) == 150
    records = {record["PatNum"]: record for record in sim.all_patients()}
    expected = {n: expected_row(r) for n, r in records.items() if n != broken}
    assert {n: row for n, row in patients.items() if n != broken} == expected
    # the refused row kept its last good version, and is named (never its value)
    assert str(patients[broken]["birthdate"]) != records[broken]["Birthdate"]
    [rejected] = query(tmp_path, f"SELECT * FROM opendental.{REJECTED_TABLE}")  # noqa: S608
    assert (rejected["resource"], rejected["key"], rejected["field"]) == (
        "patients",
        broken,
        "Birthdate",
    )
    assert "1985-13-45" not in str(rejected)
    # the cursor is the server's clock at a pass's first page, one value per pass; rows the
    # second pass did not read keep the first pass's
    [first_time] = [row["t"] for row in first_pass]
    by_pass = f"SELECT {CURSOR_COLUMN} AS t, count(*) AS n FROM opendental.patients"  # noqa: S608
    passes = query(tmp_path, by_pass + " GROUP BY t ORDER BY t")
    assert [row["n"] for row in passes] == [144, 6]
    assert passes[0]["t"] == first_time < passes[1]["t"]


def test_the_cursor_is_the_servers_clock_at_the_first_page_minus_the_overlap(
    simulator_factory: SimulatorFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server_clock = SettableClock(datetime(2031, 3, 9, 1, 30, 0))  # the practice's, not ours
    sim = simulator_factory(patients=150, clock=server_clock)
    pipeline = pipeline_in(tmp_path)
    caplog.set_level(logging.INFO, logger="odbridge.integrations")
    with client_for(sim) as client:
        source = opendental(client=client, overlap_seconds=7200).with_resources("patients")
        pipeline.run(source)
        state = pipeline.state["sources"]["opendental"]["resources"]["patients"]
        assert state["incremental"][CURSOR_COLUMN]["last_value"] == server_clock.now

        server_clock.advance(600)
        touched = sim.change(2)  # stamped 2031-03-09 01:40 by the server
        pipeline.run(opendental(client=client, overlap_seconds=7200).with_resources("patients"))

    assert "patients: changes since 2031-03-08 23:30:00: 2 rows" in caplog.text
    rows = query(
        tmp_path,
        f"SELECT pat_num FROM opendental.patients WHERE {CURSOR_COLUMN} > ?",  # noqa: S608
        datetime(2031, 3, 9, 1, 30, 0),
    )
    assert sorted(row["pat_num"] for row in rows) == sorted(touched)


def test_the_whole_source_loads_every_table_and_merges_visit_changes(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    sim = simulator_factory(patients=40, rate_interval=PACE)
    pipeline = pipeline_in(tmp_path)
    truth = httpx.get(f"{sim.root_url}/_simulator/reference", timeout=10).json()
    window = date.today().replace(year=date.today().year - 3).isoformat()

    def visits(table: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = httpx.get(
            f"{sim.root_url}/_simulator/visits/{table}", timeout=10
        ).json()
        return rows

    with client_for(sim) as client:
        pipeline.run(opendental(client=client))
        counts = loaded(pipeline)
        assert counts["patients"] == 40
        assert counts["providers"] == len(truth["providers"])
        assert counts["clinics"] == len([c for c in truth["clinics"] if not c["is_hidden"]])
        assert counts["definitions"] == len(truth["definitions"])
        assert counts["recalls"] == len(visits("recalls"))
        for table in ("operatories", "appointment_types", "recall_types"):
            assert counts[table] > 0, table
        appointments = {
            row["AptNum"]: row for row in visits("appointments") if row["AptDateTime"] >= window
        }
        loaded_apts = query(tmp_path, "SELECT apt_num, apt_status FROM opendental.appointments")
        assert {row["apt_num"] for row in loaded_apts} == set(appointments)
        procedures = {r["ProcNum"] for r in visits("procedurelogs") if r["DateTStamp"] >= window}
        loaded_procs = query(tmp_path, "SELECT proc_num FROM opendental.procedure_logs")
        assert {row["proc_num"] for row in loaded_procs} == procedures

        scheduled = next(n for n, r in appointments.items() if r["AptStatus"] == "Scheduled")
        response = httpx.post(
            f"{sim.root_url}/_simulator/visits/events/complete",
            json={"AptNum": scheduled},
            timeout=10,
        )
        assert response.status_code == 200
        pipeline.run(opendental(client=client).with_resources("appointments"))

    assert 1 <= loaded(pipeline)["appointments"] < len(appointments)  # changes, not all
    rows = query(tmp_path, "SELECT apt_num, apt_status FROM opendental.appointments")
    assert len(rows) == len({row["apt_num"] for row in rows}) == len(appointments)
    assert {r["apt_num"]: r["apt_status"] for r in rows}[scheduled] == "Complete"


def test_a_list_with_no_rows_still_makes_its_table(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    """A practice with no deleted appointment yet: ``deleted_appointments`` exists, empty,
    so the documented join works from the first load; the first deletion then fills it."""
    sim = simulator_factory(patients=40, rate_interval=PACE)
    base = f"{sim.root_url}/_simulator/visits"
    history = httpx.get(f"{base}/histappointments", timeout=10).json()
    assert not [row for row in history if row["HistApptAction"] == "Deleted"]
    pipeline = pipeline_in(tmp_path)
    with client_for(sim) as client:
        pipeline.run(opendental(client=client).with_resources("deleted_appointments"))
        assert query(tmp_path, "SELECT * FROM opendental.deleted_appointments") == []
        columns = query(
            tmp_path,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'opendental' AND table_name = 'deleted_appointments'",
        )
        assert {"apt_num", "hist_appt_action"} <= {row["column_name"] for row in columns}

        apt_num = httpx.get(f"{base}/appointments", timeout=10).json()[0]["AptNum"]
        deleted = httpx.post(f"{base}/events/delete", json={"AptNum": apt_num}, timeout=10)
        assert deleted.status_code == 200
        pipeline.run(opendental(client=client).with_resources("deleted_appointments"))
    rows = query(tmp_path, "SELECT apt_num FROM opendental.deleted_appointments")
    assert rows == [{"apt_num": apt_num}]


def test_a_group_loads_each_practice_into_one_dataset(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    group = simulator_factory(practices=2, patients=30, rate_interval=PACE)
    tables = ("patients", "clinics")  # one incremental, one read whole

    def load(number: int) -> Pipeline:
        pipeline = pipeline_in(tmp_path, f"practice_{number}")  # one pipeline (cursor) each
        with client_for(group, f"{CUST_KEY}-{number}") as client:
            source = opendental(client=client, practice_label=f"office-{number}")
            pipeline.run(source.with_resources(*tables))
        return pipeline

    load(1)
    load(2)
    group.change(3)  # in practice 1
    again = load(1)
    assert loaded(again)["patients"] == 3

    by_practice = query(
        tmp_path,
        "SELECT practice, count(*) AS n, count(DISTINCT pat_num) AS d FROM opendental.patients"
        " GROUP BY practice ORDER BY practice",
    )
    assert by_practice == [
        {"practice": "office-1", "n": 30, "d": 30},
        {"practice": "office-2", "n": 30, "d": 30},
    ]
    names = {r["PatNum"]: r["LName"] for r in group.all_patients(practice=2)}
    rows = query(
        tmp_path, "SELECT pat_num, lname FROM opendental.patients WHERE practice = 'office-2'"
    )
    assert {r["pat_num"]: r["lname"] for r in rows} == names
    # practice 1's clinics were replaced (not added again); practice 2's are still there
    clinics = query(tmp_path, "SELECT practice, count(*) AS n FROM opendental.clinics GROUP BY 1")
    expected = {}
    for number in (1, 2):
        url = f"{group.root_url}/_simulator/reference?practice={number}"
        reference = httpx.get(url, timeout=10).json()
        expected[f"office-{number}"] = len([c for c in reference["clinics"] if not c["is_hidden"]])
    assert {r["practice"]: r["n"] for r in clinics} == expected


def test_keys_from_dlt_secrets_are_never_written_or_logged(
    simulator_factory: SimulatorFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = simulator_factory(patients=30)
    monkeypatch.setenv("SOURCES__OPENDENTAL__DEVELOPER_KEY", DEV_KEY)
    monkeypatch.setenv("SOURCES__OPENDENTAL__CUSTOMER_KEY", CUST_KEY)
    monkeypatch.setenv("ODBRIDGE_RATE_INTERVAL", "0")  # odbridge's own settings apply too
    caplog.set_level(logging.DEBUG)
    pipeline = pipeline_in(tmp_path)
    pipeline.run(opendental(base_url=sim.base_url, tier="full").with_resources("patients"))

    assert loaded(pipeline) == {"patients": 30}
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        content = path.read_bytes()
        assert DEV_KEY.encode() not in content, path
        assert CUST_KEY.encode() not in content, path
    text = caplog.text
    assert DEV_KEY not in text
    assert CUST_KEY not in text
    for record in sim.all_patients():
        for field in ("LName", "FName", "SSN", "Email"):
            if len(str(record[field])) > 3:
                assert str(record[field]) not in text


def test_a_missing_key_is_named_before_anything_is_read() -> None:
    with pytest.raises(ConfigError, match="No customer key") as raised:
        opendental(base_url="http://127.0.0.1:9/api/v1", developer_key=DEV_KEY)
    assert "SOURCES__OPENDENTAL__CUSTOMER_KEY" in str(raised.value)  # in the dlt user's words
    assert DEV_KEY not in str(raised.value)


def test_an_invalid_setting_from_dlts_config_says_where_dlt_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dlt passes SOURCES__OPENDENTAL__TIER as an argument: the message, which says
    "from arguments", also says where dlt reads them."""
    monkeypatch.setenv("SOURCES__OPENDENTAL__TIER", "fast")
    with pytest.raises(ConfigError, match=r"tier \(from arguments\)") as raised:
        opendental(
            base_url="http://127.0.0.1:9/api/v1", developer_key=DEV_KEY, customer_key=CUST_KEY
        )
    assert "SOURCES__OPENDENTAL__" in raised.value.hint
    assert DEV_KEY not in str(raised.value)
    assert CUST_KEY not in str(raised.value)
