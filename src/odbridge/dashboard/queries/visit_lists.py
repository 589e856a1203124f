"""Worklists a person acts on, the day's schedule, and one patient's visits.

A worklist is computed whole once per data version (the keys and the few list-specific
values); a page or a download then reads the patients' names and contact details for the
rows it shows (:func:`worklist_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from odbridge.dashboard.queries.figure_lists import (
    FIGURE_LISTS,
    HISTORY_NOTE,
    Entry,
    Worklist,
    figure_entries,
)
from odbridge.dashboard.queries.sql import Practices, practice_condition
from odbridge.dashboard.queries.visit_kpis import (
    BROKEN,
    COMPLETE,
    PROC_TP,
    SCHEDULED,
    Key,
    KpiSettings,
    VisitSummary,
    months_before,
    recall_scope,
    tp_unscheduled,
)
from odbridge.store.schema import patients
from odbridge.store.schema_visits import (
    appointments,
    operatories,
    procedure_logs,
    recall_types,
    recalls,
)

P, A, PR, R = patients.c, appointments.c, procedure_logs.c, recalls.c
RT, OP = recall_types.c, operatories.c

CONTACT_COLUMNS = (
    "lname",
    "fname",
    "preferred",
    "wireless_phone",
    "hm_phone",
    "wk_phone",
    "email",
    "txt_msg_ok",
    "prefer_contact_method",
    "prefer_recall_method",
    "prefer_confirm_method",
)
"""What every worklist row shows of the patient, to reach them as they prefer."""


WORKLISTS: dict[str, Worklist] = {
    w.name: w
    for w in (
        Worklist(
            "recall",
            "Recall overdue",
            "Patients (status Patient) with an enabled recall due before today and no recall "
            "appointment scheduled; oldest due first. Previous recall visit is Open Dental's "
            "DatePrevious (the recall's procedures last done, however long ago); last visit "
            f"is the latest Complete appointment in the synced history. {HISTORY_NOTE}",
            "prefer_recall_method",
            (
                ("date_due", "Recall due"),
                ("recall_type", "Recall type"),
                ("date_previous", "Previous recall visit"),
                ("last_visit", "Last visit"),
            ),
        ),
        Worklist(
            "unscheduled",
            "Unscheduled treatment",
            "Patients (status Patient) with treatment-planned procedures on no appointment; "
            "largest planned value first. Value = ProcFee × (UnitQty + BaseUnits). "
            f"{HISTORY_NOTE}",
            "prefer_contact_method",
            (
                ("procedures", "Procedures"),
                ("value", "Planned value"),
                ("last_visit", "Last visit"),
            ),
        ),
        Worklist(
            "reactivation",
            "Reactivation",
            "Active patients (status Patient, a Complete appointment within the active window) "
            "with no Scheduled appointment from now on; longest since the last visit first.",
            "prefer_contact_method",
            (("last_visit", "Last visit"),),
        ),
        Worklist(
            "unconfirmed",
            "Tomorrow's unconfirmed",
            "Scheduled appointments tomorrow whose confirmation status is not a confirmed one "
            "(a status whose name says “confirmed”, not “unconfirmed”); by time.",
            "prefer_confirm_method",
            (
                ("apt_num", "AptNum"),
                ("when", "Time"),
                ("status", "Confirmation"),
                ("provider", "Provider"),
            ),
        ),
    )
}
WORKLISTS.update(FIGURE_LISTS)
"""Every list served at ``/worklists/{name}``: the worklists a person acts on (``action``),
then the patients behind each headline figure."""


def is_confirmed(name: str | None) -> bool:
    """A confirmation status that means the patient confirmed (by its name)."""
    text = (name or "").casefold()
    return "confirmed" in text and "unconfirmed" not in text and "not confirmed" not in text


def _scope(column: Any, practice: Practices) -> list[Any]:
    return practice_condition(column, practice)


def worklist_entries(
    engine: Engine,
    name: str,
    practice: Practices,
    *,
    now: datetime,
    summary: VisitSummary,
    settings: KpiSettings | None = None,
) -> list[Entry]:
    """Every row of worklist ``name``, in its order: (patient key, list-specific values)."""
    settings = settings or KpiSettings()
    if name in FIGURE_LISTS:
        return figure_entries(engine, name, practice, now=now, summary=summary, settings=settings)
    last = summary.last_visit
    if name == "reactivation":
        since = months_before(now, settings.active_months)
        keys = [
            k
            for k in summary.active_status
            if k in last and last[k] >= since and k not in summary.next_visit
        ]
        keys.sort(key=lambda k: (last[k], k))
        return [(k, {"last_visit": last[k]}) for k in keys]
    with engine.connect() as connection:
        if name == "recall":
            return _recall_entries(connection, practice, now.date(), last)
        if name == "unscheduled":
            found = tp_unscheduled(connection, practice, summary.active_status)
            found.sort(key=lambda e: (-e[2], e[0]))
            return [
                (k, {"procedures": c, "value": v, "last_visit": last.get(k)}) for k, c, v in found
            ]
        if name == "unconfirmed":
            day = now.date() + timedelta(days=1)
            return [
                (
                    (a["practice"], a["pat_num"]),
                    {
                        "apt_num": a["apt_num"],
                        "when": a["apt_date_time"],
                        "status": a["confirmed_name"] or "",
                        "provider": a["prov_abbr"] or "",
                    },
                )
                for a in day_schedule(engine, practice, day)
                if a["apt_status"] == SCHEDULED and not is_confirmed(a["confirmed_name"])
            ]
    raise KeyError(name)


def _value() -> Any:
    return PR.proc_fee * (func.coalesce(PR.unit_qty, 0) + func.coalesce(PR.base_units, 0))


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _recall_entries(
    connection: Any, practice: Practices, today: date, last: dict[Key, datetime]
) -> list[Entry]:
    query = (
        select(R.practice, R.pat_num, R.date_due, R.date_previous, RT.description)
        .outerjoin(
            recall_types,
            (RT.practice == R.practice) & (RT.recall_type_num == R.recall_type_num),
        )
        .where(*recall_scope(practice, today), R.date_due < today, R.date_scheduled.is_(None))
    )
    earliest: dict[Key, tuple[date, date | None, str]] = {}
    for p, n, due, previous, kind in connection.execute(query):
        key = (p, int(n))
        if key not in earliest or due < earliest[key][0]:
            earliest[key] = (due, previous, kind or "")
    rows = [
        (
            k,
            {
                "date_due": due,
                "recall_type": kind,
                "date_previous": previous,
                "last_visit": last.get(k),
            },
        )
        for k, (due, previous, kind) in earliest.items()
    ]
    rows.sort(key=lambda e: (e[1]["date_due"], e[0]))
    return rows


def last_visits(engine: Engine, keys: Sequence[Key], now: datetime) -> dict[Key, datetime]:
    """Each patient's last visit (latest Complete appointment up to ``now``), for patients
    the summary's window does not reach; from the (practice, PatNum) covering index."""
    by_practice: dict[str, list[int]] = {}
    for practice, pat_num in keys:
        by_practice.setdefault(practice, []).append(pat_num)
    found: dict[Key, datetime] = {}
    with engine.connect() as connection:
        for practice, numbers in by_practice.items():
            for start in range(0, len(numbers), 500):
                query = (
                    select(A.pat_num, func.max(A.apt_date_time))
                    .where(
                        A.practice == practice,
                        A.pat_num.in_(numbers[start : start + 500]),
                        A.apt_status == COMPLETE,
                        A.apt_date_time <= now,
                        A.missing_since.is_(None),
                    )
                    .group_by(A.pat_num)
                )
                for n, t in connection.execute(query):
                    if t is not None:
                        found[(practice, int(n))] = t
    return found


def worklist_rows(
    engine: Engine, entries: Sequence[Entry], now: datetime | None = None
) -> list[dict[str, Any]]:
    """The entries with each patient's name and contact details, in the entries' order; a
    ``last_visit`` left empty by the summary's window is looked up (at ``now``)."""
    by_practice: dict[str, list[int]] = {}
    for (practice, pat_num), _ in entries:
        by_practice.setdefault(practice, []).append(pat_num)
    columns = [P[c] for c in ("practice", "pat_num", *CONTACT_COLUMNS)]
    found: dict[Key, dict[str, Any]] = {}
    with engine.connect() as connection:
        for practice, numbers in by_practice.items():
            for start in range(0, len(numbers), 500):
                query = select(*columns).where(
                    P.practice == practice, P.pat_num.in_(numbers[start : start + 500])
                )
                for r in connection.execute(query).mappings():
                    found[(r["practice"], int(r["pat_num"]))] = dict(r)
    older = [k for k, values in entries if "last_visit" in values and values["last_visit"] is None]
    earlier = last_visits(engine, older, now or datetime.now()) if older else {}
    out = []
    for key, values in entries:
        row = dict(found.get(key) or {"practice": key[0], "pat_num": key[1]})
        row.update(values)
        if key in earlier:
            row["last_visit"] = earlier[key]
        out.append(row)
    return out


# -- the schedule --------------------------------------------------------------------------
def day_schedule(engine: Engine, practice: Practices, day: date) -> list[dict[str, Any]]:
    """Appointments on the book that day (Scheduled, Complete, Broken), by time, with the
    patient's name and the operatory.

    The day's appointments come from the (practice, AptDateTime) index alone; names and
    operatories are then looked up by key (a join lets planners start from patients)."""
    start = datetime.combine(day, time.min)
    query = (
        select(
            A.practice,
            A.apt_num,
            A.pat_num,
            A.apt_date_time,
            A.apt_status,
            A.confirmed_name,
            A.prov_abbr,
            A.proc_descript,
            A.pattern,
            A.is_new_patient,
            A.op,
        )
        .where(
            *_scope(A.practice, practice),
            A.apt_date_time >= start,
            A.apt_date_time < start + timedelta(days=1),
            A.missing_since.is_(None),
            A.apt_status.in_((SCHEDULED, COMPLETE, BROKEN)),
        )
        .order_by(A.apt_date_time, A.apt_num)
    )
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
        ops = {
            (p, int(n)): name
            for p, n, name in connection.execute(
                select(OP.practice, OP.operatory_num, OP.op_name).where(
                    *_scope(OP.practice, practice)
                )
            )
        }
    keys = [(r["practice"], int(r["pat_num"])) for r in rows if r["pat_num"] is not None]
    names = {
        (r["practice"], r["pat_num"]): r
        for r in worklist_rows(engine, [(k, {}) for k in dict.fromkeys(keys)])
    }
    for row in rows:
        row["pat_num"] = int(row["pat_num"]) if row["pat_num"] is not None else None
        person = names.get((row["practice"], row["pat_num"]), {})
        row.update(
            lname=person.get("lname"), fname=person.get("fname"), preferred=person.get("preferred")
        )
        row["op_name"] = ops.get((row["practice"], int(row["op"]))) if row["op"] else None
        row["minutes"] = 5 * len(row.pop("pattern") or "")
        row["confirmed"] = is_confirmed(row["confirmed_name"])
    return rows


# -- one patient -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientVisits:
    """One patient's last and next visit, recalls, visit history and treatment plan."""

    last_visit: datetime | None
    next_visit: datetime | None
    recalls: list[dict[str, Any]]
    history: list[dict[str, Any]]
    treatment_plan: list[dict[str, Any]]

    @property
    def treatment_plan_value(self) -> Decimal:
        return sum((r["value"] for r in self.treatment_plan), Decimal("0.00"))


def patient_visits(
    engine: Engine, practice: str, pat_num: int, *, now: datetime, history_limit: int = 200
) -> PatientVisits:
    """Everything about one patient's visits, computed as Open Dental's Patient Select does."""
    mine = (A.practice == practice, A.pat_num == pat_num, A.missing_since.is_(None))
    with engine.connect() as connection:
        history = [
            dict(r)
            for r in connection.execute(
                select(
                    A.apt_num,
                    A.apt_date_time,
                    A.apt_status,
                    A.prov_abbr,
                    A.proc_descript,
                    A.confirmed_name,
                    A.is_hygiene,
                )
                .where(*mine)
                .order_by(A.apt_date_time.desc(), A.apt_num.desc())
                .limit(history_limit)
            ).mappings()
        ]
        last = connection.execute(
            select(func.max(A.apt_date_time)).where(
                *mine, A.apt_status == COMPLETE, A.apt_date_time <= now
            )
        ).scalar()
        nxt = connection.execute(
            select(func.min(A.apt_date_time)).where(
                *mine, A.apt_status == SCHEDULED, A.apt_date_time >= now
            )
        ).scalar()
        recall_rows = [
            dict(r)
            for r in connection.execute(
                select(
                    R.recall_num,
                    R.date_due,
                    R.date_previous,
                    R.date_scheduled,
                    R.recall_interval,
                    R.is_disabled,
                    RT.description.label("recall_type"),
                )
                .outerjoin(
                    recall_types,
                    (RT.practice == R.practice) & (RT.recall_type_num == R.recall_type_num),
                )
                .where(R.practice == practice, R.pat_num == pat_num, R.missing_since.is_(None))
                .order_by(R.date_due)
            ).mappings()
        ]
        plan = [
            dict(r)
            for r in connection.execute(
                select(
                    PR.proc_num,
                    PR.proc_code,
                    PR.descript,
                    PR.tooth_num,
                    PR.surf,
                    PR.date_tp,
                    PR.apt_num,
                    PR.prov_abbr,
                    _value().label("value"),
                )
                .where(
                    PR.practice == practice,
                    PR.pat_num == pat_num,
                    PR.missing_since.is_(None),
                    PR.proc_status == PROC_TP,
                )
                .order_by(PR.date_tp, PR.proc_num)
            ).mappings()
        ]
    for row in plan:
        row["value"] = _money(row["value"])
        row["scheduled"] = row["apt_num"] is not None
    return PatientVisits(last, nxt, recall_rows, history, plan)
