"""The visit pages over real HTTP: figures with definitions, JSON twins, worklists and their
downloads (audited with the PatNums listed), the schedule, a patient's visits."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from odbridge.dashboard.app import create_app
from odbridge.dashboard.queries.visit_kpis import compute_kpis
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema import audit_log, audit_patients, patients
from odbridge.store.schema_visits import recalls
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


def listed_in(engine: Engine, entry_id: int) -> list[int]:
    """The PatNums the per-patient audit table holds for one entry."""
    with engine.connect() as connection:
        found = connection.execute(
            select(audit_patients.c.practice, audit_patients.c.pat_num).where(
                audit_patients.c.audit_id == entry_id
            )
        ).all()
    assert {p for p, _ in found} <= {PRACTICE}
    return sorted(int(n) for _, n in found)


def last_entry(engine: Engine, what: str) -> dict[str, object]:
    with engine.connect() as connection:
        return dict(
            connection.execute(
                select(audit_log).where(audit_log.c.what == what).order_by(audit_log.c.id.desc())
            )
            .mappings()
            .first()
            or {}
        )


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
    assert entry["detail"] == "format=csv"  # no PatNum in the text: they are in the table
    assert listed_in(engine, entry["id"]) == sorted(expected)
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


def test_every_visit_figure_lists_the_patients_behind_it(
    http: httpx.Client, engine: Engine
) -> None:
    from decimal import Decimal

    data = http.get("/overview.json").json()
    kpis = compute_kpis(engine, PRACTICE, now=datetime.fromisoformat(data["computed_at"]))
    html = http.get("/").text
    lists: dict[str, list[dict[str, object]]] = {}
    for figure in kpis.figures:
        path = data[figure.key]["patients"]
        assert path, f"{figure.key} links to no list"
        assert f'href="{path}?practice={PRACTICE}"' in html, figure.key
        lists[figure.key] = http.get(path + ".json").json()["rows"]
    assert len(lists["active_patients"]) == kpis.active_patients
    assert len(lists["new_patients"]) == kpis.new_patients[-1]
    assert len(lists["no_future_appointment"]) == kpis.no_future_appointment
    assert len(lists["recall_overdue"]) == kpis.recall_overdue
    assert len(lists["recall_due_this_month"]) == kpis.recall_due_this_month
    scheduled = lists["recall_scheduled"]
    assert len(scheduled) == kpis.recall_enabled
    assert sum(1 for r in scheduled if r["date_scheduled"]) == kpis.recall_scheduled
    hygiene = lists["hygiene_reappointment"]
    assert len(hygiene) == kpis.hygiene_seen
    assert sum(1 for r in hygiene if r["next_visit"]) == kpis.hygiene_reappointed
    production = sum(Decimal(str(r["value"])) for r in lists["production"])
    assert production == kpis.production[-1]
    assert len(lists["treatment_planned_unscheduled"]) == kpis.tp_unscheduled_patients
    assert len(lists["broken_rate"]) == kpis.broken[-1]
    assert kpis.active_patients
    assert kpis.production[-1]
    assert kpis.recall_enabled
    # the overview's own headline figures link to their patients too
    assert f'href="/worklists/new?practice={PRACTICE}"' in html
    assert f'href="/patients?practice={PRACTICE}&amp;status=Patient"' in html
    page = http.get("/worklists/active")
    assert "Behind the figures" in page.text
    assert "Last visit" in page.text


def test_worklists_say_contact_preferences_as_people_do(http: httpx.Client, engine: Engine) -> None:
    from odbridge.vocab import CONTACT_METHOD_LABELS

    friendly = {"", *CONTACT_METHOD_LABELS.values()}
    codes = set(CONTACT_METHOD_LABELS) - set(CONTACT_METHOD_LABELS.values())  # WirelessPh, …
    for name, column in (
        ("recall", "prefer_recall_method"),
        ("reactivation", "prefer_contact_method"),
    ):
        rows = http.get(f"/worklists/{name}.json").json()["rows"]
        assert rows
        assert {r[column] for r in rows} <= friendly, name
        assert {r[column] for r in rows} - {""}, name
        page = http.get(f"/worklists/{name}").text
        assert not any(f">{code}<" for code in codes if f">{code}<" in page), name
        table = list(csv.reader(io.StringIO(http.get(f"/worklists/{name}.csv").text)))
        index = next(i for i, label in enumerate(table[0]) if label.startswith("Prefers"))
        assert {r[index] for r in table[1:]} <= friendly, name
        sheet = load_workbook(io.BytesIO(http.get(f"/worklists/{name}.xlsx").content)).active
        assert sheet is not None
        cells = {sheet.cell(i, index + 1).value or "" for i in range(2, sheet.max_row + 1)}
        assert cells <= friendly, name


def test_the_last_visit_column_is_the_latest_complete_appointment(
    http: httpx.Client, engine: Engine
) -> None:
    from odbridge.store.schema_visits import appointments as a

    for name in ("recall", "unscheduled", "reactivation"):
        data = http.get(f"/worklists/{name}.json").json()
        with engine.connect() as connection:
            latest = dict(
                connection.execute(
                    select(a.c.pat_num, func.max(a.c.apt_date_time))
                    .where(
                        a.c.practice == PRACTICE,
                        a.c.apt_status == "Complete",
                        a.c.apt_date_time <= datetime.now(),
                        a.c.missing_since.is_(None),
                    )
                    .group_by(a.c.pat_num)
                ).all()
            )
        rows = data["rows"]
        assert any(r["last_visit"] for r in rows), name
        for r in rows:
            expected = latest.get(r["pat_num"])
            shown = r["last_visit"]
            assert shown == (expected.isoformat() if expected else None), (name, r["pat_num"])
    # a last visit older than the synced history shows as none; Open Dental's own
    # DatePrevious, kept however old, is beside it on the recall lists
    with engine.connect() as connection:
        previous = {
            (n, due): p
            for n, due, p in connection.execute(
                select(recalls.c.pat_num, recalls.c.date_due, recalls.c.date_previous).where(
                    recalls.c.practice == PRACTICE
                )
            )
        }
    for name in ("recall", "recall_due"):
        rows = http.get(f"/worklists/{name}.json").json()["rows"]
        assert any(r["date_previous"] for r in rows), name
        for r in rows:
            stored = previous[(r["pat_num"], date.fromisoformat(r["date_due"]))]
            assert r["date_previous"] == (stored.isoformat() if stored else None)
    assert "none synced" in http.get("/worklists/recall").text or all(
        r["last_visit"] for r in http.get("/worklists/recall.json").json()["rows"][:50]
    )


def test_views_and_downloads_of_visits_record_their_patients(
    http: httpx.Client, engine: Engine
) -> None:
    schedule = http.get("/schedule.json").json()
    entry = last_entry(engine, "schedule")
    shown = {a["pat_num"] for day in schedule["days"].values() for a in day if a["pat_num"]}
    assert listed_in(engine, int(str(entry["id"]))) == sorted(shown)
    assert "pat_nums" not in str(entry["detail"] or "")
    page = http.get("/worklists/reactivation?page=1")
    assert page.status_code == 200
    entry = last_entry(engine, "worklist reactivation")
    assert entry["rows"] == len(listed_in(engine, int(str(entry["id"])))) > 0
    http.get("/worklists/production.xlsx")
    entry = last_entry(engine, "worklist production.xlsx")
    rows = http.get("/worklists/production.json").json()["rows"]
    assert entry["action"] == "export"
    assert listed_in(engine, int(str(entry["id"]))) == sorted(r["pat_num"] for r in rows)


def test_the_patient_page_names_codes_and_links_the_guarantor(
    http: httpx.Client, engine: Engine
) -> None:
    from odbridge.vocab import contact_method_label

    with engine.connect() as connection:
        row = (
            connection.execute(
                select(patients).where(
                    patients.c.practice == PRACTICE,
                    patients.c.guarantor != patients.c.pat_num,
                    patients.c.birthdate.is_not(None),
                    patients.c.prefer_contact_method.in_(("WirelessPh", "HmPhone", "WkPhone")),
                )
            )
            .mappings()
            .first()
        )
    assert row is not None, "the seed has family members who prefer a phone"
    html = http.get(f"/patients/{row['pat_num']}?practice={PRACTICE}").text
    label = contact_method_label(row["prefer_contact_method"])
    assert f"Prefers contact by {label}" in html
    assert f">{row['prefer_contact_method']}<" not in html
    assert f'href="/patients/{row["guarantor"]}?practice={PRACTICE}"' in html
    data = http.get(f"/patients/{row['pat_num']}.json?practice={PRACTICE}").json()
    today = datetime.now().date()
    born = row["birthdate"]
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    assert data["age"] == age
    assert f"Age {age}" in html
    assert data["contact_preferences"]["prefer_contact_method"] == label
