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

from sqlalchemy import ColumnElement, Engine, and_, case, func, literal, or_, select, tuple_

from odbridge.dashboard.queries.sql import Practices, practice_condition
from odbridge.dashboard.queries.visit_figures import Figure, build_figures
from odbridge.store.schema import patients
from odbridge.store.schema_visits import appointments, procedure_logs, providers, recalls

P, A, PR, R = patients.c, appointments.c, procedure_logs.c, recalls.c
PV = providers.c

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
    """Each patient's last and next visit, the patients seen within the active window
    before the ends of last month and of the same month a year earlier (for the trend),
    each patient's last hygiene visit, and the patients with a status of Patient."""

    last_visit: dict[Key, datetime]
    next_visit: dict[Key, datetime]
    active_status: frozenset[Key]
    trend_points: tuple[datetime, ...] = ()
    seen_then: tuple[frozenset[Key], ...] = ()
    """Per trend point: patients with a Complete appointment in the ``active_months`` up to it."""
    last_hygiene: dict[Key, datetime] = field(default_factory=dict)
    active_months: int = 18
    """The active window ``seen_then`` was computed with."""


def trend_points(now: datetime) -> tuple[datetime, datetime]:
    """The end of last month, and of the same month a year earlier."""
    this_month = datetime.combine(month_start(now.date()), datetime.min.time())
    year_ago = datetime.combine(month_start(now.date(), 11), datetime.min.time())
    return this_month - timedelta(seconds=1), year_ago - timedelta(seconds=1)


HYGIENE_LOOKBACK_DAYS = 92
"""How far back the summary looks for hygiene visits (the figure's window is at most this)."""


def _hygiene() -> ColumnElement[bool]:
    return or_(A.is_hygiene.is_(True), A.prov_hyg.is_not(None))


def visit_summary(
    engine: Engine, practice: Practices, now: datetime, *, active_months: int = 18
) -> VisitSummary:
    """One grouped pass over the Complete and Scheduled appointments that matter (from the
    start of the oldest active window the trend needs: ``active_months`` before the end of
    the same month a year ago; read from the covering day index), and the patients'
    statuses. ``last_visit`` is None for a patient not seen since then: older last visits
    are looked up for the rows a list shows (:func:`last_visits`). The trend is read as
    flags (seen in the window before each point or not), not dates: the pass is the
    figures' costliest part, and each date column returned costs a parse per patient."""
    points = trend_points(now)
    horizon = months_before(points[-1], active_months)
    complete = A.apt_status == COMPLETE
    query = (
        select(
            A.practice,
            A.pat_num,
            func.max(case((and_(complete, A.apt_date_time <= now), A.apt_date_time))),
            func.min(
                case((and_(A.apt_status == SCHEDULED, A.apt_date_time >= now), A.apt_date_time))
            ),
            *(
                func.max(
                    case(
                        (
                            and_(
                                complete,
                                A.apt_date_time <= at,
                                A.apt_date_time >= months_before(at, active_months),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                )
                for at in points
            ),
        )
        .where(
            *_scope(A.practice, practice),
            A.apt_date_time >= horizon,
            A.apt_status.in_((COMPLETE, SCHEDULED)),
            A.missing_since.is_(None),
        )
        .group_by(A.practice, A.pat_num)
    )
    hygiene_q = (
        select(A.practice, A.pat_num, func.max(A.apt_date_time))
        .where(
            *_scope(A.practice, practice),
            A.apt_date_time >= now - timedelta(days=HYGIENE_LOOKBACK_DAYS),
            A.apt_date_time <= now,
            A.apt_status == COMPLETE,
            A.missing_since.is_(None),
            _hygiene(),
        )
        .group_by(A.practice, A.pat_num)
    )
    status_q = select(P.practice, P.pat_num).where(
        *_scope(P.practice, practice), P.missing_since.is_(None), P.pat_status == ACTIVE_STATUS
    )
    last: dict[Key, datetime] = {}
    nxt: dict[Key, datetime] = {}
    then: tuple[set[Key], ...] = tuple(set() for _ in points)
    hygiene: dict[Key, datetime] = {}
    with engine.connect() as connection:
        for p, n, last_t, next_t, *rest in connection.execute(query):
            if n is None:
                continue
            key = (p, int(n))
            if last_t is not None:
                last[key] = last_t
            if next_t is not None:
                nxt[key] = next_t
            for found, seen in zip(then, rest, strict=True):
                if seen:
                    found.add(key)
        hygiene = {(p, int(n)): t for p, n, t in connection.execute(hygiene_q) if n is not None}
        active = frozenset((p, int(n)) for p, n in connection.execute(status_q))
    seen_then = tuple(frozenset(keys) for keys in then)
    return VisitSummary(last, nxt, active, points, seen_then, hygiene, active_months)


# -- the figures ---------------------------------------------------------------------------
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
    if summary is None or summary.active_months != settings.active_months:
        summary = visit_summary(engine, practice, now, active_months=settings.active_months)
    today = now.date()
    n = max(settings.trend_months, 13)
    months = [month_start(today, n - 1 - i) for i in range(n)]
    edges_dt = [datetime.combine(m, datetime.min.time()) for m in months]
    active_since = months_before(now, settings.active_months)
    active = {k for k, t in summary.last_visit.items() if t >= active_since} & summary.active_status
    no_future = {k for k in active if k not in summary.next_visit}

    active_then = [len(seen & summary.active_status) for seen in summary.seen_then]
    hygiene_since = now - timedelta(days=settings.hygiene_days)
    hygiene = {k for k, t in summary.last_hygiene.items() if t >= hygiene_since}
    with engine.connect() as connection:
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
        production, by_provider = _production(connection, practice, months, today)
        visit_counts = _appointments_by_month(connection, practice, edges_dt, now)
        recall = _recall_counts(connection, practice, today)
        tp_rows = tp_unscheduled(connection, practice, summary.active_status)
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
        tp_unscheduled_count=sum(n for _, n, _ in tp_rows),
        tp_unscheduled_patients=len(tp_rows),
        tp_unscheduled_value=_money(sum((v for _, _, v in tp_rows), Decimal(0))),
    )
    kpis.figures = build_figures(kpis)
    return kpis


def _by_month(connection: Any, query: Any, n: int) -> list[Any]:
    values: list[Any] = [0] * n
    for index, value in connection.execute(query):
        if index is not None:
            values[int(index)] += value or 0
    return values


def _month_index(months: Sequence[date], day: date) -> int:
    index = (day.year - months[0].year) * 12 + day.month - months[0].month
    return min(max(index, 0), len(months) - 1)


def _production(
    connection: Any, practice: Practices, months: Sequence[date], today: date
) -> tuple[list[Decimal], list[tuple[int | None, str, Decimal, Decimal]]]:
    """Production per month, and per provider (this month, last 12 months), in one pass:
    summed per provider and day in SQL (read from the covering index alone), per month
    here (no dialect's date functions)."""
    query = (
        select(PR.prov_num, PR.proc_date, func.sum(_value()))
        .where(
            *_scope(PR.practice, practice),
            PR.proc_status == PROC_COMPLETE,
            PR.proc_date >= months[0],
            PR.proc_date <= today,
            PR.missing_since.is_(None),
        )
        .group_by(PR.prov_num, PR.proc_date)
    )
    by_month: list[Decimal] = [Decimal(0)] * len(months)
    this_month, year_start = months[-1], months[-12]
    totals: dict[int | None, list[Decimal]] = {}
    for num, day, value in connection.execute(query):
        amount = Decimal(str(value or 0))
        by_month[_month_index(months, day)] += amount
        if day < year_start:
            continue
        pair = totals.setdefault(None if num is None else int(num), [Decimal(0), Decimal(0)])
        pair[1] += amount
        if day >= this_month:
            pair[0] += amount
    abbrs = dict(
        connection.execute(select(PV.prov_num, PV.abbr).where(*_scope(PV.practice, practice))).all()
    )
    by_provider = [
        (num, abbrs.get(num) or (f"#{num}" if num else "(none)"), _money(m), _money(y))
        for num, (m, y) in totals.items()
    ]
    return by_month, sorted(by_provider, key=lambda r: (-r[3], r[1]))


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


def _active_status_keys(practice: Practices) -> Any:
    """(practice, PatNum) of patients of status Patient: an uncorrelated subquery, which
    the databases evaluate once (a correlated one ran once per row)."""
    return select(P.practice, P.pat_num).where(
        *_scope(P.practice, practice), P.missing_since.is_(None), P.pat_status == ACTIVE_STATUS
    )


def recall_scope(practice: Practices, today: date) -> list[ColumnElement[bool]]:
    """Recalls Open Dental would list: enabled, with a due date, of patients of status
    Patient, not disabled until a later date."""
    return [
        *_scope(R.practice, practice),
        R.missing_since.is_(None),
        or_(R.is_disabled.is_(None), R.is_disabled.is_(False)),
        R.date_due.is_not(None),
        or_(R.disable_until_date.is_(None), R.disable_until_date <= today),
        tuple_(R.practice, R.pat_num).in_(_active_status_keys(practice)),
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


def tp_unscheduled(
    connection: Any, practice: Practices, active: frozenset[Key]
) -> list[tuple[Key, int, Decimal]]:
    """Per patient of status Patient (``active``): treatment-planned (TP) procedures on no
    appointment, their count and value. Read by status from the procedures' index; the
    patients are filtered here (a subquery made planners walk every patient's chart)."""
    query = select(PR.practice, PR.pat_num, _value()).where(
        *_scope(PR.practice, practice),
        PR.proc_status == PROC_TP,
        PR.apt_num.is_(None),
        PR.missing_since.is_(None),
    )  # no GROUP BY: it would lead SQLite to walk the patient index instead of the status one
    totals: dict[Key, list[Any]] = {}
    for p, n, value in connection.execute(query):
        if n is not None and (p, int(n)) in active:
            entry = totals.setdefault((p, int(n)), [0, Decimal(0)])
            entry[0] += 1
            entry[1] += Decimal(str(value or 0))
    return [(key, int(c), _money(v)) for key, (c, v) in totals.items()]
