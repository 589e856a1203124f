"""The visit figures a practice runs on, computed as Open Dental computes them.

Every figure carries its definition (shown beside it on the page and in the JSON). Times are
the practice's local time, as Open Dental's server keeps them. The costly part, one pass over
the appointments giving each patient's last and next visit (:func:`visit_summary`), is done
once per data version and shared by the figures and the worklists.

Rules (Open Dental's own, from its source):
- **Last visit** = latest Complete appointment at or before now; **next visit** = earliest
  Scheduled appointment from now on. Planned, UnschedList, Broken and PtNote never count.
- **Production** = ``ProcFee × (UnitQty + BaseUnits)`` of Complete (C) procedures, by ProcDate.
- **Recall**: DateDue of enabled recalls; scheduled = DateScheduled set; patients of status
  Patient only; a recall disabled until a later date is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, func, literal, or_, select

from odbridge.dashboard.queries.sql import Practices, practice_condition
from odbridge.store.schema import patients
from odbridge.store.schema_visits import appointments, procedure_logs, recalls

P, A, PR, R = patients.c, appointments.c, procedure_logs.c, recalls.c

# Open Dental's spellings (the API's ApptStatus and ProcStat names)
COMPLETE, SCHEDULED, BROKEN = "Complete", "Scheduled", "Broken"
PROC_COMPLETE, PROC_TP = "C", "TP"
ACTIVE_STATUS = "Patient"

Key = tuple[str, int]
"""(practice, PatNum)."""


@dataclass(frozen=True)
class KpiSettings:
    """The windows the figures use (configurable per dashboard)."""

    active_months: int = 18
    """A patient is active after a Complete appointment within this many months."""
    trend_months: int = 13
    """Months of history in the monthly series (this month included)."""
    hygiene_days: int = 30
    """Hygiene visits in this many days are checked for a next appointment."""


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month ``months_back`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def months_before(moment: datetime, months: int) -> datetime:
    """The same moment ``months`` earlier (the month's last day when the day is missing)."""
    first = month_start(moment.date(), months)
    day = moment.day
    while True:
        try:
            return moment.replace(year=first.year, month=first.month, day=day)
        except ValueError:
            day -= 1


def _scope(column: Any, practice: Practices) -> list[ColumnElement[bool]]:
    return practice_condition(column, practice)


def _month_case(column: Any, starts: Sequence[date | datetime]) -> Any:
    """The index of the month (in ``starts``, oldest first) a date falls in, portable SQL."""
    return case(*((column < edge, i) for i, edge in enumerate(starts[1:])), else_=len(starts) - 1)


def _monthly(bucket: Any, value: Any, *where: Any, by: Any = None) -> Any:
    """``SUM(value)`` per month bucket (and ``by``), the bucket computed in a subquery so
    that PostgreSQL groups by it (its parameters would otherwise differ)."""
    columns = [bucket.label("m"), value.label("v")]
    if by is not None:
        columns.append(by.label("g"))
    inner = select(*columns).where(*where).subquery()
    if by is None:
        return select(inner.c.m, func.sum(inner.c.v)).group_by(inner.c.m)
    return select(inner.c.g, inner.c.m, func.sum(inner.c.v)).group_by(inner.c.g, inner.c.m)


def _value() -> Any:
    return PR.proc_fee * (func.coalesce(PR.unit_qty, 0) + func.coalesce(PR.base_units, 0))


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


# -- per patient: last and next visit ------------------------------------------------------
@dataclass(frozen=True)
class VisitSummary:
    """Each patient's last and next visit, and the patients with a status of Patient."""

    last_visit: dict[Key, datetime]
    next_visit: dict[Key, datetime]
    active_status: frozenset[Key]


def visit_summary(engine: Engine, practice: Practices, now: datetime) -> VisitSummary:
    """One grouped pass over the appointments (and the patients' statuses)."""
    last_q = (
        select(A.practice, A.pat_num, func.max(A.apt_date_time))
        .where(
            *_scope(A.practice, practice),
            A.missing_since.is_(None),
            A.apt_status == COMPLETE,
            A.apt_date_time <= now,
        )
        .group_by(A.practice, A.pat_num)
    )
    next_q = (
        select(A.practice, A.pat_num, func.min(A.apt_date_time))
        .where(
            *_scope(A.practice, practice),
            A.missing_since.is_(None),
            A.apt_status == SCHEDULED,
            A.apt_date_time >= now,
        )
        .group_by(A.practice, A.pat_num)
    )
    status_q = select(P.practice, P.pat_num).where(
        *_scope(P.practice, practice), P.missing_since.is_(None), P.pat_status == ACTIVE_STATUS
    )
    with engine.connect() as connection:
        last = {(p, int(n)): t for p, n, t in connection.execute(last_q) if n is not None}
        nxt = {(p, int(n)): t for p, n, t in connection.execute(next_q) if n is not None}
        active = frozenset((p, int(n)) for p, n in connection.execute(status_q))
    return VisitSummary(last, nxt, active)


# -- the figures ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """One headline number, how it is defined, and its trend when it has one."""

    key: str
    label: str
    value: int | Decimal | float | None
    kind: str
    """count | money | percent"""
    definition: str
    previous_month: int | Decimal | float | None = None
    last_year: int | Decimal | float | None = None
    worklist: str | None = None
    """The worklist listing the patients behind it, if any."""

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": _json_value(self.value),
            "kind": self.kind,
            "definition": self.definition,
            "previous_month": _json_value(self.previous_month),
            "last_year": _json_value(self.last_year),
        }


def _json_value(value: int | Decimal | float | None) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return round(value, 1)
    return value


@dataclass
class VisitKpis:
    """Every visit figure of one practice (or all of them) at one moment."""

    practice: Practices
    now: datetime
    settings: KpiSettings
    months: list[date]
    active_patients: int
    status_active: int
    active_last_month: int
    active_last_year: int
    no_future_appointment: int
    new_patients: list[int]
    production: list[Decimal]
    production_by_provider: list[tuple[int | None, str, Decimal, Decimal]]
    """(ProvNum, abbreviation, this month, last 12 months)"""
    visits: list[int]
    broken: list[int]
    recall_overdue: int
    recall_due_this_month: int
    recall_enabled: int
    recall_scheduled: int
    hygiene_seen: int
    hygiene_reappointed: int
    tp_unscheduled_count: int
    tp_unscheduled_patients: int
    tp_unscheduled_value: Decimal
    figures: list[Figure] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def recall_scheduled_pct(self) -> float | None:
        return _pct(self.recall_scheduled, self.recall_enabled)

    @property
    def hygiene_reappointment_pct(self) -> float | None:
        return _pct(self.hygiene_reappointed, self.hygiene_seen)

    def broken_rate(self, index: int = -1) -> float | None:
        """Broken ÷ (Broken + Complete) of the appointments dated in that month."""
        return _pct(self.broken[index], self.broken[index] + self.visits[index])

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)

    def as_json(self) -> dict[str, Any]:
        """The figures with definitions, and the monthly series, for ``/overview.json``."""
        out: dict[str, Any] = {f.key: f.as_json() for f in self.figures}
        out["monthly"] = [
            {
                "month": m.strftime("%Y-%m"),
                "new_patients": self.new_patients[i],
                "production": str(self.production[i]),
                "completed_visits": self.visits[i],
                "broken_appointments": self.broken[i],
            }
            for i, m in enumerate(self.months)
        ]
        out["production_by_provider"] = [
            {"prov_num": num, "provider": abbr, "this_month": str(mtd), "last_12_months": str(yr)}
            for num, abbr, mtd, yr in self.production_by_provider
        ]
        return out


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def compute_kpis(
    engine: Engine,
    practice: Practices,
    *,
    now: datetime,
    settings: KpiSettings | None = None,
    summary: VisitSummary | None = None,
) -> VisitKpis:
    """Every visit figure for ``practice`` (None: all practices) at ``now`` (local time)."""
    settings = settings or KpiSettings()
    summary = summary or visit_summary(engine, practice, now)
    today = now.date()
    n = max(settings.trend_months, 13)
    months = [month_start(today, n - 1 - i) for i in range(n)]
    edges_dt = [datetime.combine(m, datetime.min.time()) for m in months]
    active_since = months_before(now, settings.active_months)
    active = {k for k, t in summary.last_visit.items() if t >= active_since} & summary.active_status
    no_future = {k for k in active if k not in summary.next_visit}

    with engine.connect() as connection:
        active_then = [
            _active_at(connection, practice, at, settings.active_months)
            for at in (edges_dt[-1] - timedelta(seconds=1), edges_dt[-12] - timedelta(seconds=1))
        ]
        new = _by_month(
            connection,
            _monthly(
                _month_case(P.date_first_visit, months),
                literal(1),
                *_scope(P.practice, practice),
                P.missing_since.is_(None),
                P.date_first_visit >= months[0],
                P.date_first_visit <= today,
            ),
            n,
        )
        production = _production(connection, practice, months, today)
        by_provider = _production_by_provider(connection, practice, months, today)
        visit_counts = _appointments_by_month(connection, practice, edges_dt, now)
        recall = _recall_counts(connection, practice, today)
        tp = _tp_unscheduled(connection, practice)
        hygiene = _hygiene_seen(connection, practice, now, settings.hygiene_days)
    reappointed = sum(1 for k in hygiene if k in summary.next_visit)
    kpis = VisitKpis(
        practice=practice,
        now=now,
        settings=settings,
        months=months,
        active_patients=len(active),
        status_active=len(summary.active_status),
        active_last_month=active_then[0],
        active_last_year=active_then[1],
        no_future_appointment=len(no_future),
        new_patients=[int(v) for v in new],
        production=[_money(v) for v in production],
        production_by_provider=by_provider,
        visits=[int(v) for v in visit_counts[COMPLETE]],
        broken=[int(v) for v in visit_counts[BROKEN]],
        recall_overdue=recall["overdue"],
        recall_due_this_month=recall["due_this_month"],
        recall_enabled=recall["enabled"],
        recall_scheduled=recall["scheduled"],
        hygiene_seen=len(hygiene),
        hygiene_reappointed=reappointed,
        tp_unscheduled_count=tp[0],
        tp_unscheduled_patients=tp[1],
        tp_unscheduled_value=_money(tp[2]),
    )
    kpis.figures = build_figures(kpis)
    return kpis


def _by_month(connection: Any, query: Any, n: int) -> list[Any]:
    values: list[Any] = [0] * n
    for index, value in connection.execute(query):
        if index is not None:
            values[int(index)] += value or 0
    return values


def _active_at(connection: Any, practice: Practices, at: datetime, months: int) -> int:
    """Patients (status Patient today) with a Complete appointment in the window ending at."""
    since = months_before(at, months)
    query = select(func.count(func.distinct(A.pat_num))).where(
        *_scope(A.practice, practice),
        A.missing_since.is_(None),
        A.apt_status == COMPLETE,
        A.apt_date_time >= since,
        A.apt_date_time <= at,
        A.pat_num.in_(
            select(P.pat_num).where(
                *_scope(P.practice, practice),
                P.missing_since.is_(None),
                P.pat_status == ACTIVE_STATUS,
                P.practice == A.practice,
            )
        ),
    )
    return int(connection.execute(query).scalar_one() or 0)


def _production(
    connection: Any, practice: Practices, months: Sequence[date], today: date
) -> list[Any]:
    bucket = _month_case(PR.proc_date, months)
    query = _monthly(
        bucket,
        _value(),
        *_scope(PR.practice, practice),
        PR.missing_since.is_(None),
        PR.proc_status == PROC_COMPLETE,
        PR.proc_date >= months[0],
        PR.proc_date <= today,
    )
    return _by_month(connection, query, len(months))


def _production_by_provider(
    connection: Any, practice: Practices, months: Sequence[date], today: date
) -> list[tuple[int | None, str, Decimal, Decimal]]:
    this_month = months[-1]
    year_start = months[-12]
    query = (
        select(
            PR.prov_num,
            func.max(PR.prov_abbr),
            func.sum(case((PR.proc_date >= this_month, _value()), else_=0)),
            func.sum(_value()),
        )
        .where(
            *_scope(PR.practice, practice),
            PR.missing_since.is_(None),
            PR.proc_status == PROC_COMPLETE,
            PR.proc_date >= year_start,
            PR.proc_date <= today,
        )
        .group_by(PR.prov_num)
    )
    rows = [
        (None if num is None else int(num), abbr or (f"#{num}" if num else "(none)"), mtd, yr)
        for num, abbr, mtd, yr in connection.execute(query)
    ]
    result = [(num, abbr, _money(mtd), _money(yr)) for num, abbr, mtd, yr in rows]
    return sorted(result, key=lambda r: (-r[3], r[1]))


def _appointments_by_month(
    connection: Any, practice: Practices, edges: Sequence[datetime], now: datetime
) -> dict[str, list[Any]]:
    bucket = _month_case(A.apt_date_time, edges)
    query = _monthly(
        bucket,
        literal(1),
        *_scope(A.practice, practice),
        A.missing_since.is_(None),
        A.apt_status.in_((COMPLETE, BROKEN)),
        A.apt_date_time >= edges[0],
        A.apt_date_time <= now,
        by=A.apt_status,
    )
    out: dict[str, list[Any]] = {COMPLETE: [0] * len(edges), BROKEN: [0] * len(edges)}
    for status, index, count in connection.execute(query):
        out[status][int(index)] += int(count)
    return out


def recall_scope(practice: Practices, today: date) -> list[ColumnElement[bool]]:
    """Recalls Open Dental would list: enabled, with a due date, of patients of status
    Patient, not disabled until a later date."""
    return [
        *_scope(R.practice, practice),
        R.missing_since.is_(None),
        or_(R.is_disabled.is_(None), R.is_disabled.is_(False)),
        R.date_due.is_not(None),
        or_(R.disable_until_date.is_(None), R.disable_until_date <= today),
        R.pat_num.in_(
            select(P.pat_num).where(
                P.practice == R.practice, P.missing_since.is_(None), P.pat_status == ACTIVE_STATUS
            )
        ),
    ]


def _recall_counts(connection: Any, practice: Practices, today: date) -> dict[str, int]:
    first, next_first = month_start(today), month_start(today, -1)
    overdue = and_(R.date_due < today, R.date_scheduled.is_(None))
    query = select(
        func.count(func.distinct(case((overdue, R.pat_num)))),
        func.count(
            func.distinct(case((and_(R.date_due >= first, R.date_due < next_first), R.pat_num)))
        ),
        func.count(),
        func.sum(case((R.date_scheduled.is_not(None), 1), else_=0)),
    ).where(*recall_scope(practice, today))
    row = connection.execute(query).one()
    return {
        "overdue": int(row[0] or 0),
        "due_this_month": int(row[1] or 0),
        "enabled": int(row[2] or 0),
        "scheduled": int(row[3] or 0),
    }


def tp_unscheduled_scope(practice: Practices) -> list[ColumnElement[bool]]:
    """Treatment-planned procedures on no appointment, of patients of status Patient."""
    return [
        *_scope(PR.practice, practice),
        PR.missing_since.is_(None),
        PR.proc_status == PROC_TP,
        PR.apt_num.is_(None),
        PR.pat_num.in_(
            select(P.pat_num).where(
                P.practice == PR.practice, P.missing_since.is_(None), P.pat_status == ACTIVE_STATUS
            )
        ),
    ]


def _tp_unscheduled(connection: Any, practice: Practices) -> tuple[int, int, Any]:
    query = select(func.count(), func.count(func.distinct(PR.pat_num)), func.sum(_value())).where(
        *tp_unscheduled_scope(practice)
    )
    count, pats, value = connection.execute(query).one()
    return int(count or 0), int(pats or 0), value


def _hygiene_seen(connection: Any, practice: Practices, now: datetime, days: int) -> set[Key]:
    query = select(A.practice, A.pat_num).where(
        *_scope(A.practice, practice),
        A.missing_since.is_(None),
        A.apt_status == COMPLETE,
        or_(A.is_hygiene.is_(True), A.prov_hyg.is_not(None)),
        A.apt_date_time >= now - timedelta(days=days),
        A.apt_date_time <= now,
    )
    return {(p, int(n)) for p, n in connection.execute(query.distinct()) if n is not None}


# -- definitions -------------------------------------------------------------------------
def build_figures(k: VisitKpis) -> list[Figure]:
    """The headline figures, each with its definition and trend."""
    s = k.settings
    month = k.months[-1].strftime("%B %Y")
    prev, year = -2, -13
    return [
        Figure(
            "active_patients",
            "Active patients",
            k.active_patients,
            "count",
            f"Patients whose PatStatus is “Patient” and who had a Complete appointment in the "
            f"last {s.active_months} months (up to now). {k.status_active:,} patients have the "
            "status alone. The trend compares the same count at the end of last month and a "
            "year earlier (status as of today).",
            previous_month=k.active_last_month,
            last_year=k.active_last_year,
        ),
        Figure(
            "new_patients",
            "New patients this month",
            k.new_patients[-1],
            "count",
            f"Patients whose DateFirstVisit falls in {month} (Open Dental sets it at the first "
            "appointment). Trend: the same count for last month and a year ago.",
            previous_month=k.new_patients[prev],
            last_year=k.new_patients[year],
        ),
        Figure(
            "no_future_appointment",
            "Active, no future appointment",
            k.no_future_appointment,
            "count",
            "Active patients (as above) with no Scheduled appointment from now on. Planned, "
            "Unscheduled-list and Broken appointments do not count as booked.",
            worklist="reactivation",
        ),
        Figure(
            "recall_overdue",
            "Recall overdue",
            k.recall_overdue,
            "count",
            "Patients (status Patient) with an enabled recall whose DateDue is before today and "
            "no recall appointment scheduled (DateScheduled empty). Recalls disabled until a "
            "later date are left out, as in Open Dental's recall list.",
            worklist="recall",
        ),
        Figure(
            "recall_due_this_month",
            "Recall due this month",
            k.recall_due_this_month,
            "count",
            f"Patients (status Patient) with an enabled recall whose DateDue falls in {month}.",
        ),
        Figure(
            "recall_scheduled",
            "Recall scheduled",
            k.recall_scheduled_pct,
            "percent",
            f"Share of enabled recalls of patients with status Patient that have a recall "
            f"appointment scheduled (DateScheduled set): {k.recall_scheduled:,} of "
            f"{k.recall_enabled:,}.",
        ),
        Figure(
            "hygiene_reappointment",
            "Hygiene reappointment",
            k.hygiene_reappointment_pct,
            "percent",
            f"Of the {k.hygiene_seen:,} patients with a Complete hygiene appointment "
            f"(IsHygiene, or a hygienist set) in the last {s.hygiene_days} days, the share "
            f"that now have a Scheduled appointment from now on ({k.hygiene_reappointed:,}).",
        ),
        Figure(
            "production",
            "Production this month",
            k.production[-1],
            "money",
            f"Gross production: the sum of ProcFee × (UnitQty + BaseUnits) of Complete (C) "
            f"procedures whose ProcDate falls in {month}, to today, as Open Dental's own "
            "dashboard computes it. Write-offs and adjustments are not in the API data "
            "synced, so this is not net production. Trend: last month and a year ago.",
            previous_month=k.production[prev],
            last_year=k.production[year],
        ),
        Figure(
            "treatment_planned_unscheduled",
            "Treatment planned, unscheduled",
            k.tp_unscheduled_value,
            "money",
            f"Treatment-planned (TP) procedures not on any appointment (AptNum 0) of patients "
            f"with status Patient: {k.tp_unscheduled_count:,} procedures for "
            f"{k.tp_unscheduled_patients:,} patients; value = ProcFee × (UnitQty + BaseUnits). "
            "Inactive plans (TPi) are left out.",
            worklist="unscheduled",
        ),
        Figure(
            "broken_rate",
            "Broken appointment rate",
            k.broken_rate(),
            "percent",
            f"Broken ÷ (Broken + Complete) among appointments dated in {month} up to now. "
            "Appointments broken and then sent to the Unscheduled list are not counted "
            "(Open Dental no longer marks them Broken). Trend: last month and a year ago.",
            previous_month=k.broken_rate(prev),
            last_year=k.broken_rate(year),
        ),
    ]
