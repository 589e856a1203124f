# ruff: noqa: S608  (constant SQL fragments joined for an independent count; values are bound)
"""The visit KPIs equal an independent count: plain SQL written another way (EXISTS and NOT
EXISTS per patient, no shared code) over the same tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from odbridge.dashboard.queries.visit_kpis import compute_kpis, months_before, visit_summary
from odbridge.dashboard.queries.visit_lists import (
    day_schedule,
    is_confirmed,
    patient_visits,
    worklist_entries,
)
from tests.visits_data import fill_visits

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 18, 12, 30)
PRACTICE = "smile"


@pytest.fixture
def seeded(store: Engine) -> Engine:
    counts = fill_visits(store, PRACTICE, 300, now=NOW, seed=5)
    assert counts["appointments"] > 1000
    assert counts["procedures"] > 2000
    return store


def one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), {"pr": PRACTICE, **params}).scalar()


ACTIVE = """
  p.practice = :pr AND p.missing_since IS NULL AND p.pat_status = 'Patient'
  AND EXISTS (SELECT 1 FROM appointments a WHERE a.practice = p.practice
      AND a.pat_num = p.pat_num AND a.missing_since IS NULL AND a.apt_status = 'Complete'
      AND a.apt_date_time >= :since AND a.apt_date_time <= :now)
"""
NO_FUTURE = """
  AND NOT EXISTS (SELECT 1 FROM appointments f WHERE f.practice = p.practice
      AND f.pat_num = p.pat_num AND f.missing_since IS NULL AND f.apt_status = 'Scheduled'
      AND f.apt_date_time >= :now)
"""
RECALLS = """
  FROM recalls r JOIN patients p ON p.practice = r.practice AND p.pat_num = r.pat_num
  WHERE r.practice = :pr AND r.missing_since IS NULL AND p.missing_since IS NULL
    AND p.pat_status = 'Patient' AND (r.is_disabled IS NULL OR r.is_disabled = :no)
    AND r.date_due IS NOT NULL
    AND (r.disable_until_date IS NULL OR r.disable_until_date <= :today)
"""
TP = """
  FROM procedure_logs x JOIN patients p ON p.practice = x.practice AND p.pat_num = x.pat_num
  WHERE x.practice = :pr AND x.missing_since IS NULL AND p.missing_since IS NULL
    AND p.pat_status = 'Patient' AND x.proc_status = 'TP' AND x.apt_num IS NULL
"""


def production(engine: Engine, start: date, end: date) -> Decimal:
    value = one(
        engine,
        "SELECT SUM(proc_fee * (unit_qty + base_units)) FROM procedure_logs WHERE practice = :pr"
        " AND missing_since IS NULL AND proc_status = 'C' AND proc_date >= :start"
        " AND proc_date <= :end",
        start=start,
        end=end,
    )
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def test_kpis_equal_an_independent_sql_count(seeded: Engine) -> None:
    kpis = compute_kpis(seeded, PRACTICE, now=NOW)
    today = NOW.date()
    since = months_before(NOW, 18)
    first = today.replace(day=1)
    common = {"since": since, "now": NOW, "today": today, "no": False}

    active = one(seeded, f"SELECT COUNT(*) FROM patients p WHERE {ACTIVE}", **common)
    assert kpis.active_patients == active
    assert 0 < active < kpis.status_active
    end_of_last_month = datetime.combine(today.replace(day=1), datetime.min.time()) - timedelta(
        seconds=1
    )
    active_then = one(
        seeded,
        f"SELECT COUNT(*) FROM patients p WHERE {ACTIVE}",
        **{**common, "since": months_before(end_of_last_month, 18), "now": end_of_last_month},
    )
    assert kpis.active_last_month == active_then
    no_future = one(seeded, f"SELECT COUNT(*) FROM patients p WHERE {ACTIVE} {NO_FUTURE}", **common)
    assert kpis.no_future_appointment == no_future
    assert 0 < no_future < active

    new = one(
        seeded,
        "SELECT COUNT(*) FROM patients WHERE practice = :pr AND missing_since IS NULL"
        " AND date_first_visit >= :first AND date_first_visit <= :today",
        first=first,
        today=today,
    )
    assert kpis.new_patients[-1] == new

    overdue = one(
        seeded,
        f"SELECT COUNT(DISTINCT r.pat_num) {RECALLS} AND r.date_due < :today"
        " AND r.date_scheduled IS NULL",
        **common,
    )
    assert kpis.recall_overdue == overdue
    assert overdue > 0
    next_first = (first + timedelta(days=32)).replace(day=1)
    due = one(
        seeded,
        f"SELECT COUNT(DISTINCT r.pat_num) {RECALLS} AND r.date_due >= :first"
        " AND r.date_due < :next",
        first=first,
        next=next_first,
        **common,
    )
    assert kpis.recall_due_this_month == due
    enabled = one(seeded, f"SELECT COUNT(*) {RECALLS}", **common)
    scheduled = one(seeded, f"SELECT COUNT(*) {RECALLS} AND r.date_scheduled IS NOT NULL", **common)
    assert (kpis.recall_enabled, kpis.recall_scheduled) == (enabled, scheduled)

    assert kpis.production[-1] == production(seeded, first, today)
    last_month = (first - timedelta(days=1)).replace(day=1)
    assert kpis.production[-2] == production(seeded, last_month, first - timedelta(days=1))
    assert kpis.production[-2] > 0
    year_ago = first.replace(year=first.year - 1)
    assert kpis.production[-13] == production(
        seeded, year_ago, (year_ago + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    )
    eleven_back = (year_ago + timedelta(days=32)).replace(day=1)  # 12 months, this one included
    twelve = production(seeded, eleven_back, today)
    assert sum(p[3] for p in kpis.production_by_provider) == twelve

    tp_count = one(seeded, f"SELECT COUNT(*) {TP}")
    tp_value = one(seeded, f"SELECT SUM(x.proc_fee * (x.unit_qty + x.base_units)) {TP}")
    tp_patients = one(seeded, f"SELECT COUNT(DISTINCT x.pat_num) {TP}")
    assert kpis.tp_unscheduled_count == tp_count
    assert kpis.tp_unscheduled_patients == tp_patients
    assert kpis.tp_unscheduled_value == Decimal(str(tp_value)).quantize(Decimal("0.01"))

    month_start_dt = datetime.combine(first, datetime.min.time())
    broken = one(
        seeded,
        "SELECT COUNT(*) FROM appointments WHERE practice = :pr AND missing_since IS NULL"
        " AND apt_status = :status AND apt_date_time >= :start AND apt_date_time <= :now",
        status="Broken",
        start=month_start_dt,
        now=NOW,
    )
    complete = one(
        seeded,
        "SELECT COUNT(*) FROM appointments WHERE practice = :pr AND missing_since IS NULL"
        " AND apt_status = :status AND apt_date_time >= :start AND apt_date_time <= :now",
        status="Complete",
        start=month_start_dt,
        now=NOW,
    )
    assert (kpis.broken[-1], kpis.visits[-1]) == (broken, complete)

    hyg_seen = one(
        seeded,
        "SELECT COUNT(DISTINCT p.pat_num) FROM patients p WHERE p.practice = :pr AND EXISTS"
        " (SELECT 1 FROM appointments h WHERE h.practice = p.practice AND h.pat_num = p.pat_num"
        "  AND h.missing_since IS NULL AND h.apt_status = 'Complete'"
        "  AND (h.is_hygiene = :yes OR h.prov_hyg IS NOT NULL)"
        "  AND h.apt_date_time >= :from_ AND h.apt_date_time <= :now)",
        yes=True,
        from_=NOW - timedelta(days=30),
        now=NOW,
    )
    assert kpis.hygiene_seen == hyg_seen
    assert hyg_seen > 0


def test_worklists_list_the_patients_behind_the_figures(seeded: Engine) -> None:
    summary = visit_summary(seeded, PRACTICE, NOW)
    kpis = compute_kpis(seeded, PRACTICE, now=NOW, summary=summary)
    lists = {
        name: worklist_entries(seeded, name, PRACTICE, now=NOW, summary=summary)
        for name in ("recall", "unscheduled", "reactivation", "unconfirmed")
    }
    assert len(lists["recall"]) == kpis.recall_overdue
    assert len(lists["reactivation"]) == kpis.no_future_appointment
    assert len(lists["unscheduled"]) == kpis.tp_unscheduled_patients
    assert sum(v["value"] for _, v in lists["unscheduled"]) == kpis.tp_unscheduled_value
    dues = [v["date_due"] for _, v in lists["recall"]]
    assert dues == sorted(dues)
    assert all(d < NOW.date() for d in dues)
    tomorrow = day_schedule(seeded, PRACTICE, NOW.date() + timedelta(days=1))
    unconfirmed = [
        a
        for a in tomorrow
        if a["apt_status"] == "Scheduled" and not is_confirmed(a["confirmed_name"])
    ]
    assert [v["apt_num"] for _, v in lists["unconfirmed"]] == [a["apt_num"] for a in unconfirmed]
    assert unconfirmed, "the seed books some patients for tomorrow"


def test_patient_visits_follow_open_dentals_last_and_next_visit(seeded: Engine) -> None:
    summary = visit_summary(seeded, PRACTICE, NOW)
    key = next(k for k in summary.next_visit if k in summary.last_visit)
    visits = patient_visits(seeded, PRACTICE, key[1], now=NOW)
    assert visits.last_visit == summary.last_visit[key]
    assert visits.next_visit == summary.next_visit[key]
    completes = [h["apt_date_time"] for h in visits.history if h["apt_status"] == "Complete"]
    assert visits.last_visit == max(t for t in completes if t <= NOW)
    assert [h["apt_date_time"] for h in visits.history] == sorted(
        (h["apt_date_time"] for h in visits.history), reverse=True
    )


def test_is_confirmed_reads_the_status_name() -> None:
    assert is_confirmed("Appointment Confirmed")
    assert not is_confirmed("Unconfirmed")
    assert not is_confirmed("Not Called")
    assert not is_confirmed(None)
