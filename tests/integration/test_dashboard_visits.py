"""The visit pages over real HTTP: figures with definitions, JSON twins, worklists and their
downloads (audited with the PatNums listed), the schedule, a patient's visits."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from odbridge.dashboard.app import create_app
from odbridge.dashboard.queries.visit_kpis import compute_kpis
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema import audit_log
from odbridge.store.users import add_user
from tests.browser.seed import SECRET, csrf_from
from tests.visits_data import fill_visits

pytestmark = pytest.mark.integration

USER, PASSWORD = "frontdesk", "front-desk-password-1"
PRACTICE = "smile"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder: Path = tmp_path_factory.mktemp("dashboard-visits")
    store = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    fill_visits(store, PRACTICE, 200, now=datetime.now().replace(microsecond=0), seed=3)
    add_user(store, USER, PASSWORD, role="viewer")
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def http(engine: Engine) -> Iterator[httpx.Client]:
    with (
        DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        token = csrf_from(client.get("/login").text)
        form = {"username": USER, "password": PASSWORD, "csrf_token": token, "next": ""}
        assert client.post("/login", data=form).status_code == 303
        yield client


def test_overview_json_carries_the_figures_with_definitions(
    http: httpx.Client, engine: Engine
) -> None:
    data = http.get("/overview.json").json()
    for key in (
        "active_patients",
        "new_patients",
        "recall_overdue",
        "no_future_appointment",
        "production",
        "treatment_planned_unscheduled",
    ):
        assert data[key]["definition"], key
    assert "local time" in data["times"]
    now = datetime.fromisoformat(data["computed_at"])
    kpis = compute_kpis(engine, PRACTICE, now=now)
    assert data["active_patients"]["value"] == kpis.active_patients
    assert data["production"]["value"] == str(kpis.production[-1])
    assert data["recall_overdue"]["value"] == kpis.recall_overdue
    html = http.get("/").text
    assert "Visits, recall and production" in html
    assert f"{kpis.active_patients:,}" in html
    assert html.count("server clock)") == 1


def test_worklist_page_and_csv_download_are_audited_with_the_pat_nums(
    http: httpx.Client, engine: Engine
) -> None:
    page = http.get("/worklists/recall")
    assert page.status_code == 200
    assert "Download CSV" in page.text
    listed = http.get("/worklists/recall.json").json()
    expected = [row["pat_num"] for row in listed["rows"]]
    assert expected
    download = http.get("/worklists/recall.csv")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0][0] == "PatNum"
    assert "Prefers recall by" in rows[0]
    assert [int(r[0]) for r in rows[1:]] == expected
    with engine.connect() as connection:
        entry = (
            connection.execute(select(audit_log).where(audit_log.c.what == "worklist recall.csv"))
            .mappings()
            .one()
        )
    assert entry["action"] == "export"
    assert entry["rows"] == len(expected)
    assert entry["detail"].endswith("pat_nums=" + ",".join(map(str, expected)))
    book = load_workbook(io.BytesIO(http.get("/worklists/reactivation.xlsx").content))
    sheet = book.active
    assert sheet is not None
    assert sheet.cell(1, 1).value == "PatNum"


def test_schedule_and_patient_pages(http: httpx.Client, engine: Engine) -> None:
    schedule = http.get("/schedule.json").json()
    assert set(schedule["days"]) == {"today", "tomorrow"}
    assert schedule["days"]["tomorrow"], "the seed books some patients for tomorrow"
    assert "Tomorrow" in http.get("/schedule").text
    pat_num = schedule["days"]["tomorrow"][0]["pat_num"]
    patient = http.get(f"/patients/{pat_num}.json?practice={PRACTICE}").json()
    assert patient["patient"]["pat_num"] == pat_num
    assert patient["visits"]["next_visit"] is not None
    html = http.get(f"/patients/{pat_num}?practice={PRACTICE}").text
    assert "Visit history" in html
    assert "Treatment plan" in html


def test_unknown_worklist_and_download_kind_are_404(http: httpx.Client) -> None:
    assert http.get("/worklists/nope").status_code == 404
    assert http.get("/worklists/recall.pdf").status_code == 404
