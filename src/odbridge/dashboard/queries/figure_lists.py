"""The patients behind each headline visit figure (clicking a figure lists them).

Each list is computed with the figure's own rule, so its length (or its sum, for
production) equals the figure. The four worklists a person acts on (recall overdue,
unscheduled treatment, reactivation, tomorrow's unconfirmed) are in
:mod:`~odbridge.dashboard.queries.visit_lists`; the lists here are served the same way
(``/worklists/{name}``, CSV and Excel downloads, audited with the patients listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from odbridge.dashboard.queries.sql import Practices, practice_condition
from odbridge.dashboard.queries.visit_kpis import (
    BROKEN,
    PROC_COMPLETE,
    Key,
    KpiSettings,
    VisitSummary,
    month_start,
    months_before,
    recall_scope,
)
from odbridge.store.schema import patients
from odbridge.store.schema_visits import appointments, procedure_logs, recall_types, recalls

P, A, PR, R, RT = patients.c, appointments.c, procedure_logs.c, recalls.c, recall_types.c

HISTORY_NOTE = (
    "A last visit before the synced appointment history (3 years by default, "
    "odbridge sync --visits --history-years) shows as none."
)

Entry = tuple[Key, dict[str, Any]]
"""(patient key, the list's own values for that row)."""


@dataclass(frozen=True)
class Worklist:
    """A list of patients: what it holds and which contact preference applies."""

    name: str
    title: str
    definition: str
    prefer: str
    """The patient's preferred method for this kind of contact (a patients column)."""
    columns: tuple[tuple[str, str], ...]
    """List-specific (key, label) columns, after the patient's contact details."""
    action: bool = True
    """A worklist a person acts on (False: the patients behind a figure)."""


FIGURE_LISTS: dict[str, Worklist] = {
    w.name: w
    for w in (
        Worklist(
            "active",
            "Active patients",
            "Patients whose PatStatus is “Patient” with a Complete appointment within the "
            "active window (up to now); the longest since the last visit first.",
            "prefer_contact_method",
            (("last_visit", "Last visit"), ("next_visit", "Next visit")),
            action=False,
        ),
        Worklist(
            "new",
            "New patients this month",
            "Patients (any status) whose DateFirstVisit falls in this month, up to today; "
            "by first visit.",
            "prefer_contact_method",
            (("date_first_visit", "First visit"), ("pat_status", "Status")),
            action=False,
        ),
        Worklist(
            "recall_due",
            "Recall due this month",
            "Patients (status Patient) with an enabled recall whose DateDue falls in this "
            "month; those without a recall appointment first, then by due date. Previous "
            f"recall visit is Open Dental's DatePrevious. {HISTORY_NOTE}",
            "prefer_recall_method",
            (
                ("date_due", "Recall due"),
                ("recall_type", "Recall type"),
                ("date_scheduled", "Recall appointment"),
                ("date_previous", "Previous recall visit"),
                ("last_visit", "Last visit"),
            ),
            action=False,
        ),
        Worklist(
            "recall_scheduled",
            "Recalls and their appointments",
            "Every enabled recall of patients with status Patient (the figure's whole): "
            "those with no recall appointment scheduled first, then by due date.",
            "prefer_recall_method",
            (
                ("date_due", "Recall due"),
                ("recall_type", "Recall type"),
                ("date_scheduled", "Recall appointment"),
            ),
            action=False,
        ),
        Worklist(
            "hygiene",
            "Hygiene reappointment",
            "Patients with a Complete hygiene appointment (IsHygiene, or a hygienist set) in "
            "the figure's window; those with no Scheduled appointment from now on first.",
            "prefer_recall_method",
            (("last_hygiene", "Hygiene visit"), ("next_visit", "Next visit")),
            action=False,
        ),
        Worklist(
            "production",
            "Production this month",
            "Patients with Complete (C) procedures whose ProcDate falls in this month, up to "
            "today; production = ProcFee × (UnitQty + BaseUnits); largest first.",
            "prefer_contact_method",
            (("procedures", "Procedures"), ("value", "Production")),
            action=False,
        ),
        Worklist(
            "broken",
            "Broken appointments this month",
            "Appointments with status Broken dated in this month up to now (the broken "
            "appointment rate's numerator); by time.",
            "prefer_contact_method",
            (("apt_num", "AptNum"), ("when", "Time"), ("provider", "Provider")),
            action=False,
        ),
    )
}


def _value() -> Any:
    return PR.proc_fee * (func.coalesce(PR.unit_qty, 0) + func.coalesce(PR.base_units, 0))


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def figure_entries(
    engine: Engine,
    name: str,
    practice: Practices,
    *,
    now: datetime,
    summary: VisitSummary,
    settings: KpiSettings,
) -> list[Entry]:
    """Every row of the list behind figure ``name``, in its order."""
    last, nxt = summary.last_visit, summary.next_visit
    if name == "active":
        since = months_before(now, settings.active_months)
        keys = [k for k in summary.active_status if k in last and last[k] >= since]
        keys.sort(key=lambda k: (last[k], k))
        return [(k, {"last_visit": last[k], "next_visit": nxt.get(k)}) for k in keys]
    if name == "hygiene":
        since = now - timedelta(days=settings.hygiene_days)
        seen = [k for k, t in summary.last_hygiene.items() if t >= since]
        seen.sort(key=lambda k: (k in nxt, summary.last_hygiene[k], k))
        hygiene = summary.last_hygiene
        return [(k, {"last_hygiene": hygiene[k], "next_visit": nxt.get(k)}) for k in seen]
    with engine.connect() as connection:
        if name == "new":
            return _new_patients(connection, practice, now.date())
        if name in ("recall_due", "recall_scheduled"):
            due_now = name == "recall_due"
            return _recalls(connection, practice, now.date(), last, this_month=due_now)
        if name == "production":
            return _production(connection, practice, now.date())
        if name == "broken":
            return _broken(connection, practice, now)
    raise KeyError(name)


def _new_patients(connection: Any, practice: Practices, today: date) -> list[Entry]:
    query = (
        select(P.practice, P.pat_num, P.date_first_visit, P.pat_status)
        .where(
            *practice_condition(P.practice, practice),
            P.missing_since.is_(None),
            P.date_first_visit >= month_start(today),
            P.date_first_visit <= today,
        )
        .order_by(P.date_first_visit, P.practice, P.pat_num)
    )
    return [
        ((p, int(n)), {"date_first_visit": first, "pat_status": status or ""})
        for p, n, first, status in connection.execute(query)
    ]


def _recalls(
    connection: Any,
    practice: Practices,
    today: date,
    last: dict[Key, datetime],
    *,
    this_month: bool,
) -> list[Entry]:
    where = list(recall_scope(practice, today))
    if this_month:
        where += [R.date_due >= month_start(today), R.date_due < month_start(today, -1)]
    query = (
        select(
            R.practice,
            R.pat_num,
            R.recall_num,
            R.date_due,
            R.date_scheduled,
            R.date_previous,
            RT.description,
        )
        .outerjoin(
            recall_types,
            (RT.practice == R.practice) & (RT.recall_type_num == R.recall_type_num),
        )
        .where(*where)
    )
    order = (R.date_scheduled.is_not(None), R.date_due, R.practice, R.pat_num, R.recall_num)
    rows: list[Entry] = []
    seen: set[Key] = set()
    for p, n, _num, due, scheduled, previous, kind in connection.execute(query.order_by(*order)):
        key = (p, int(n))
        if this_month and key in seen:  # the figure counts patients: their first recall
            continue
        seen.add(key)
        values: dict[str, Any] = {
            "date_due": due,
            "recall_type": kind or "",
            "date_scheduled": scheduled,
        }
        if this_month:
            values["date_previous"] = previous
            values["last_visit"] = last.get(key)
        rows.append((key, values))
    return rows


def _production(connection: Any, practice: Practices, today: date) -> list[Entry]:
    query = (
        select(PR.practice, PR.pat_num, func.count(), func.sum(_value()))
        .where(
            *practice_condition(PR.practice, practice),
            PR.proc_status == PROC_COMPLETE,
            PR.proc_date >= month_start(today),
            PR.proc_date <= today,
            PR.missing_since.is_(None),
        )
        .group_by(PR.practice, PR.pat_num)
    )
    found = [
        ((p, int(n)), int(count), _money(total))
        for p, n, count, total in connection.execute(query)
        if n is not None
    ]
    found.sort(key=lambda e: (-e[2], e[0]))
    return [(k, {"procedures": c, "value": v}) for k, c, v in found]


def _broken(connection: Any, practice: Practices, now: datetime) -> list[Entry]:
    start = datetime.combine(month_start(now.date()), datetime.min.time())
    query = (
        select(A.practice, A.pat_num, A.apt_num, A.apt_date_time, A.prov_abbr)
        .where(
            *practice_condition(A.practice, practice),
            A.missing_since.is_(None),
            A.apt_status == BROKEN,
            A.apt_date_time >= start,
            A.apt_date_time <= now,
        )
        .order_by(A.apt_date_time, A.apt_num)
    )
    return [
        ((p, int(n)), {"apt_num": num, "when": when, "provider": prov or ""})
        for p, n, num, when, prov in connection.execute(query)
        if n is not None
    ]
