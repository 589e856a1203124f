"""What the dashboard asks the store, in SQLAlchemy Core, the same on SQLite and PostgreSQL.

Aggregates are computed in SQL; Python only adds up a few hundred grouped rows. Date
arithmetic is done in Python (cut-off dates bound as parameters), so no dialect's date
functions are needed. Two checks have a dialect-specific spelling with the same meaning:
case-insensitive ``LIKE`` and "exactly ten digits" (see :class:`ilike_` and :class:`ten_digits`).

Rows whose ``missing_since`` is set (no longer returned by Open Dental) are left out unless
asked for.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Engine,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from odbridge.api.models import ContactMethod, PatStatus
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients, sync_runs
from odbridge.sync.status import practice_statuses

P = patients.c

ACTIVE_STATUS = "Patient"
"""Open Dental's PatStatus of an active patient."""

PAT_STATUSES: tuple[str, ...] = tuple(status.value for status in PatStatus)
"""Open Dental's PatStatus names, in its order (the client's enum is the one definition)."""
CONTACT_METHODS: tuple[str, ...] = tuple(method.value for method in ContactMethod)
CONTACT_LABELS = {
    "None": "None chosen",
    "DoNotCall": "Do not call",
    "HmPhone": "Home phone",
    "WkPhone": "Work phone",
    "WirelessPh": "Mobile phone",
    "Email": "Email",
    "SeeNotes": "See notes",
    "Mail": "Mail",
    "TextMessage": "Text message",
}

AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-12", 0, 13),
    ("13-17", 13, 18),
    ("18-24", 18, 25),
    ("25-34", 25, 35),
    ("35-44", 35, 45),
    ("45-54", 45, 55),
    ("55-64", 55, 65),
    ("65-74", 65, 75),
    ("75+", 75, None),
)
"""Label, lowest age, first age of the next band (ages in whole years on the day)."""

NEW_PATIENT_MONTHS = 24
TOP_PLACES = 10
BIRTHDAY_LIST_LIMIT = 100
OLDEST_AGE = 120

PHONE_SEPARATORS = ("(", ")", "-", " ", ".", "+", "/")
PHONE_COLUMNS = ("hm_phone", "wk_phone", "wireless_phone")


# -- portable expressions ------------------------------------------------------------------
class ten_digits(FunctionElement[bool]):  # noqa: N801 - reads like the SQL function it is
    """True when the text is exactly ten ASCII digits (NULL is not)."""

    type = Boolean()
    inherit_cache = True
    name = "ten_digits"


@compiles(ten_digits, "sqlite")
def _ten_digits_sqlite(element: ten_digits, compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    return f"({compiler.process(argument, **kw)} GLOB '{'[0-9]' * 10}')"


@compiles(ten_digits, "postgresql")
def _ten_digits_postgresql(element: ten_digits, compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    return f"({compiler.process(argument, **kw)} ~ '^[0-9]{{10}}$')"


class ilike_(FunctionElement[bool]):  # noqa: N801
    """``text ILIKE pattern ESCAPE '/'``: case-insensitive for ASCII letters on both databases.

    SQLite's own ``LIKE`` already ignores ASCII case (and is much faster than ``lower()``).
    """

    type = Boolean()
    inherit_cache = True
    name = "ilike_"


@compiles(ilike_, "sqlite")
def _ilike_sqlite(element: ilike_, compiler: SQLCompiler, **kw: Any) -> str:
    text, pattern = element.clauses
    return f"({compiler.process(text, **kw)} LIKE {compiler.process(pattern, **kw)} ESCAPE '/')"


@compiles(ilike_, "postgresql")
def _ilike_postgresql(element: ilike_, compiler: SQLCompiler, **kw: Any) -> str:
    text, pattern = element.clauses
    # lower() LIKE is markedly faster than ILIKE in PostgreSQL, with the same meaning
    left, right = compiler.process(text, **kw), compiler.process(pattern, **kw)
    return f"(lower({left}) LIKE lower({right}) ESCAPE '/')"


def like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character '/')."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def istarts(column: ColumnElement[Any], prefix: str) -> ColumnElement[bool]:
    """Case-insensitive "begins with", wildcards in ``prefix`` taken literally."""
    return ilike_(column, like_escape(prefix) + "%")


def icontains(column: ColumnElement[Any], part: str) -> ColumnElement[bool]:
    """Case-insensitive "contains", wildcards in ``part`` taken literally."""
    return ilike_(column, "%" + like_escape(part) + "%")


def phone_digits(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The number with brackets, dashes, dots, spaces, '+' and '/' removed."""
    expr: ColumnElement[Any] = column
    for separator in PHONE_SEPARATORS:
        expr = func.replace(expr, separator, "")
    return expr


def valid_phone(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """True when the number is exactly 10 digits once separators are removed."""
    return ten_digits(phone_digits(column))


def blank(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """True when the text is NULL or only spaces."""
    return func.coalesce(func.trim(column), "") == ""


def valid_email(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """One '@' with text before it, a dot after it with text around the dot, no spaces."""
    return and_(
        column.like("%_@_%._%"),
        not_(column.like("% %")),
        func.length(column) - func.length(func.replace(column, "@", "")) == 1,
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _sum_if(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.sum(case((condition, value), else_=0))


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_on(birthdate: date | None, day: date) -> int | None:
    """Age in whole years on ``day``."""
    if birthdate is None or birthdate > day:
        return None
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


def scope(practice: str | None, include_missing: bool = False) -> list[ColumnElement[bool]]:
    """Conditions for one practice (None: all) and, by default, rows still in Open Dental."""
    conditions: list[ColumnElement[bool]] = []
    if practice is not None:
        conditions.append(P.practice == practice)
    if not include_missing:
        conditions.append(P.missing_since.is_(None))
    return conditions


def _money(value: Any) -> Decimal:
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))


# -- practices and freshness ---------------------------------------------------------------
def practices(engine: Engine) -> list[str]:
    """Every practice with patients or sync runs in the store, sorted."""
    query = union(select(P.practice).distinct(), select(sync_runs.c.practice).distinct())
    with engine.connect() as connection:
        return sorted(str(name) for name in connection.execute(query).scalars())


def data_version(engine: Engine) -> tuple[Any, ...]:
    """A cheap signature of sync activity: it changes with every run and every page."""
    query = (
        select(
            sync_runs.c.id,
            sync_runs.c.outcome,
            sync_runs.c.pages,
            sync_runs.c.rows_received,
            sync_runs.c.finished_at,
        )
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return tuple(row) if row else ()


@dataclass(frozen=True)
class Freshness:
    """How current one practice's data is."""

    practice: str
    patients: int
    missing: int
    last_mode: str | None
    last_outcome: str | None
    last_started: datetime | None
    last_finished: datetime | None
    last_ok: datetime | None
    last_error: str | None
    running_pages: int | None
    full_in_progress: bool
    cursor: str | None
    next_expected: datetime | None


def freshness(
    engine: Engine, practice: str | None, *, sync_every: timedelta | None = None
) -> list[Freshness]:
    """Last sync, its outcome and (when the schedule is known) the next one, per practice."""
    statuses = [s for s in practice_statuses(engine) if practice is None or s.practice == practice]
    running: dict[str, int] = {}
    if any(s.last_outcome == "running" for s in statuses):
        latest = (
            select(sync_runs.c.practice, func.max(sync_runs.c.id).label("id"))
            .group_by(sync_runs.c.practice)
            .subquery()
        )
        with engine.connect() as connection:
            running = {
                row.practice: int(row.pages)
                for row in connection.execute(
                    select(sync_runs.c.practice, sync_runs.c.pages)
                    .join(latest, sync_runs.c.id == latest.c.id)
                    .where(sync_runs.c.outcome == "running")
                )
            }
    return [
        Freshness(
            practice=s.practice,
            patients=s.patients - s.missing,
            missing=s.missing,
            last_mode=s.last_mode,
            last_outcome=s.last_outcome,
            last_started=s.last_started,
            last_finished=s.last_finished,
            last_ok=s.last_ok,
            last_error=s.last_error,
            running_pages=running.get(s.practice),
            full_in_progress=s.full_in_progress,
            cursor=s.cursor,
            next_expected=(
                s.last_started + sync_every
                if sync_every is not None and s.last_started is not None
                else None
            ),
        )
        for s in statuses
    ]


# -- overview ------------------------------------------------------------------------------
@dataclass
class Group:
    """Counts for one (status, gender, provider, clinic) combination."""

    status: str
    gender: str
    prov_num: int | None
    prov_abbr: str
    clinic_num: int | None
    clinic_abbr: str
    patients: int
    bands: list[int]
    age_unknown: int
    mobile_ok: int
    email_ok: int
    address_ok: int
    text_ok: int
    contact: dict[str, int]
    est_balance: Decimal
    est_owing: Decimal
    est_credit: Decimal
    owing: int
    bal_total: Decimal
    families_owing: int
    families_owing_total: Decimal


@dataclass(frozen=True)
class Birthday:
    """An active patient whose birthday falls in the week."""

    practice: str
    pat_num: int
    lname: str | None
    fname: str | None
    preferred: str | None
    birthdate: date
    day: date
    turns: int


@dataclass
class Overview:
    """Everything on the overview page for one practice or all of them."""

    practice: str | None
    today: date
    week_start: date
    week_end: date
    groups: list[Group]
    new_by_month: list[tuple[date, int]]
    top_cities: list[tuple[str, int]]
    top_zips: list[tuple[str, int]]
    birthdays: list[Birthday]
    birthdays_total: int
    freshness: list[Freshness] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts: Counter[str] = Counter()
        for g in self.groups:
            counts[g.status] += g.patients
        ordered = {s: counts.pop(s, 0) for s in PAT_STATUSES}
        ordered.update(sorted(counts.items()))
        self.statuses = ordered

    @property
    def active_groups(self) -> list[Group]:
        return [g for g in self.groups if g.status == ACTIVE_STATUS]

    @property
    def total(self) -> int:
        return sum(g.patients for g in self.groups)

    @property
    def active(self) -> int:
        return sum(g.patients for g in self.active_groups)

    def birthdays_by_day(self) -> list[tuple[date, list[Birthday]]]:
        """The week's seven days, each with its birthdays (of those listed)."""
        days = [self.week_start + timedelta(days=i) for i in range(7)]
        return [(day, [b for b in self.birthdays if b.day == day]) for day in days]

    def new_this_month(self) -> int:
        first = self.today.replace(day=1)
        return next((n for month, n in self.new_by_month if month == first), 0)

    def bands_by_gender(self) -> dict[str, list[int]]:
        """Active patients per age band: Female, Male, and everyone else."""
        result = {"Female": [0] * len(AGE_BANDS), "Male": [0] * len(AGE_BANDS)}
        other = [0] * len(AGE_BANDS)
        for g in self.active_groups:
            target = result.get(g.gender, other)
            for i, n in enumerate(g.bands):
                target[i] += n
        result["Other / unknown"] = other
        return result

    def age_unknown(self) -> int:
        return sum(g.age_unknown for g in self.active_groups)

    def genders(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for g in self.active_groups:
            counts[g.gender] += g.patients
        return dict(counts.most_common())

    def completeness(self) -> dict[str, int]:
        groups = self.active_groups
        return {
            "Valid mobile phone": sum(g.mobile_ok for g in groups),
            "Valid email": sum(g.email_ok for g in groups),
            "Postal address": sum(g.address_ok for g in groups),
            "Text messages OK": sum(g.text_ok for g in groups),
        }

    def contact_methods(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for g in self.active_groups:
            counts.update(g.contact)
        keys = (*CONTACT_METHODS, "Not set", "Other")
        return {CONTACT_LABELS.get(k, k): counts[k] for k in keys if counts[k]}

    def _by(self, number: str, label: str) -> list[tuple[str, int]]:
        counts: Counter[str] = Counter()
        for g in self.active_groups:
            num = getattr(g, number)
            counts[getattr(g, label) or (f"#{num}" if num is not None else "(none)")] += g.patients
        return counts.most_common()

    def by_provider(self) -> list[tuple[str, int]]:
        """Active patients per primary provider (abbreviation)."""
        return self._by("prov_num", "prov_abbr")

    def by_clinic(self) -> list[tuple[str, int]]:
        """Active patients per clinic (abbreviation)."""
        return self._by("clinic_num", "clinic_abbr")

    def balances(self) -> dict[str, Any]:
        groups = self.groups
        zero = Decimal("0.00")
        return {
            "est_balance": sum((g.est_balance for g in groups), zero),
            "est_owing": sum((g.est_owing for g in groups), zero),
            "est_credit": sum((g.est_credit for g in groups), zero),
            "owing": sum(g.owing for g in groups),
            "bal_total": sum((g.bal_total for g in groups), zero),
            "families_owing": sum(g.families_owing for g in groups),
            "families_owing_total": sum((g.families_owing_total for g in groups), zero),
        }

    def providers(self) -> list[tuple[int, str]]:
        """(PriProv, abbreviation) of every provider with patients here, for filters."""
        found = {(g.prov_num, g.prov_abbr) for g in self.groups if g.prov_num is not None}
        return sorted(((n, a) for n, a in found if n is not None), key=lambda p: (p[1], p[0]))

    def clinics(self) -> list[tuple[int, str]]:
        """(ClinicNum, abbreviation) of every clinic with patients here, for filters."""
        found = {(g.clinic_num, g.clinic_abbr) for g in self.groups if g.clinic_num is not None}
        return sorted(((n, a) for n, a in found if n is not None), key=lambda c: (c[1], c[0]))

    def count(self, status: str | None, clinic: int | None, provider: int | None) -> int:
        """Patients matching these filters, from the grouped counts (no query)."""
        return sum(
            g.patients
            for g in self.groups
            if (status is None or g.status == status)
            and (clinic is None or g.clinic_num == clinic)
            and (provider is None or g.prov_num == provider)
        )


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the calendar week holding ``day``."""
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthday_in(birthdate: date, year: int) -> date:
    """The birthday in ``year`` (28 February for 29 February in other years)."""
    try:
        return birthdate.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def birthdates_in(start: date, end: date, today: date) -> list[date]:
    """Every birthdate (back ``OLDEST_AGE`` years, none after today) whose birthday falls in
    ``start``..``end``. Matching exact dates lets the (practice, birthdate) index do the work
    on any database, with no date functions."""
    result: set[date] = set()
    day = start
    while day <= end:
        for age in range(OLDEST_AGE + 1):
            year = day.year - age
            with contextlib.suppress(ValueError):  # 29 February in a year without one
                result.add(day.replace(year=year))
            if (day.month, day.day) == (2, 28) and not _is_leap(day.year) and _is_leap(year):
                result.add(date(year, 2, 29))
        day += timedelta(days=1)
    return sorted(d for d in result if d <= today)


def _month_start(today: date, months_back: int) -> date:
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def overview(
    engine: Engine,
    practice: str | None,
    *,
    today: date,
    include_missing: bool = False,
    sync_every: timedelta | None = None,
) -> Overview:
    """The overview's figures for ``practice`` (None: all practices)."""
    where = scope(practice, include_missing)
    first_month = _month_start(today, NEW_PATIENT_MONTHS - 1)
    week_start, week_end = week_of(today)
    birthday_filter = (
        *where,
        P.pat_status == ACTIVE_STATUS,
        P.birthdate.in_(birthdates_in(week_start, week_end, today)),
    )
    with engine.connect() as connection:
        groups = _groups(connection, where, today)
        new_rows = connection.execute(
            select(P.date_first_visit, func.count())
            .where(*where, P.date_first_visit >= first_month, P.date_first_visit <= today)
            .group_by(P.date_first_visit)
        ).all()
        places = connection.execute(
            select(P.city, P.zip, func.count())
            .where(*where, P.pat_status == ACTIVE_STATUS)
            .group_by(P.city, P.zip)
        ).all()
        birthday_rows = connection.execute(
            select(P.practice, P.pat_num, P.lname, P.fname, P.preferred, P.birthdate).where(
                *birthday_filter
            )
        ).all()
    months: Counter[date] = Counter({_month_start(today, i): 0 for i in range(NEW_PATIENT_MONTHS)})
    for day, count in new_rows:
        months[day.replace(day=1)] += int(count)
    cities: Counter[str] = Counter()
    zips: Counter[str] = Counter()
    for city, zip_code, count in places:
        cities[" ".join((city or "").split()).title() or "(none)"] += int(count)
        zips[(zip_code or "").strip()[:5] or "(none)"] += int(count)
    birthdays = []
    for row in birthday_rows:
        day = next(
            d
            for d in (
                birthday_in(row.birthdate, week_start.year),
                birthday_in(row.birthdate, week_end.year),
            )
            if week_start <= d <= week_end
        )
        birthdays.append(
            Birthday(
                practice=row.practice,
                pat_num=int(row.pat_num),
                lname=row.lname,
                fname=row.fname,
                preferred=row.preferred,
                birthdate=row.birthdate,
                day=day,
                turns=age_on(row.birthdate, day) or 0,
            )
        )
    birthdays.sort(key=lambda b: (b.day, (b.lname or "").lower(), (b.fname or "").lower()))
    return Overview(
        practice=practice,
        today=today,
        week_start=week_start,
        week_end=week_end,
        groups=groups,
        new_by_month=sorted(months.items()),
        top_cities=cities.most_common(TOP_PLACES),
        top_zips=zips.most_common(TOP_PLACES),
        birthdays=birthdays[:BIRTHDAY_LIST_LIMIT],
        birthdays_total=len(birthdays),
        freshness=freshness(engine, practice, sync_every=sync_every),
    )


def _groups(connection: Any, where: Sequence[ColumnElement[bool]], today: date) -> list[Group]:
    band_columns = []
    for i, (_label, low, high) in enumerate(AGE_BANDS):
        condition = P.birthdate <= years_before(today, low)
        if high is not None:
            condition = and_(condition, P.birthdate > years_before(today, high))
        band_columns.append(_count_if(condition).label(f"band_{i}"))
    contact_columns = [
        _count_if(P.prefer_contact_method == method).label(f"contact_{method}")
        for method in CONTACT_METHODS
    ]
    has_address = and_(not_(blank(P.address)), not_(blank(P.city)), not_(blank(P.zip)))
    query = (
        select(
            P.pat_status,
            P.gender,
            P.pri_prov,
            P.clinic_num,
            func.max(P.pri_prov_abbr).label("pri_prov_abbr"),
            func.max(P.clinic_abbr).label("clinic_abbr"),
            func.count().label("patients"),
            *band_columns,
            _count_if(or_(P.birthdate.is_(None), P.birthdate > today)).label("age_unknown"),
            _count_if(valid_phone(P.wireless_phone)).label("mobile_ok"),
            _count_if(valid_email(P.email)).label("email_ok"),
            _count_if(has_address).label("address_ok"),
            _count_if(P.txt_msg_ok == "Yes").label("text_ok"),
            _count_if(P.prefer_contact_method.is_(None)).label("contact_unset"),
            *contact_columns,
            func.sum(P.est_balance).label("est_balance"),
            _sum_if(P.est_balance > 0, P.est_balance).label("est_owing"),
            _sum_if(P.est_balance < 0, P.est_balance).label("est_credit"),
            _count_if(P.est_balance > 0).label("owing"),
            func.sum(P.bal_total).label("bal_total"),
            _count_if(P.bal_total > 0).label("families_owing"),
            _sum_if(P.bal_total > 0, P.bal_total).label("families_owing_total"),
        )
        .where(*where)
        .group_by(P.pat_status, P.gender, P.pri_prov, P.clinic_num)
    )
    groups = []
    for row in connection.execute(query).mappings():
        count = int(row["patients"])
        contact = {m: int(row[f"contact_{m}"]) for m in CONTACT_METHODS}
        contact["Not set"] = int(row["contact_unset"])
        contact["Other"] = count - sum(contact.values())
        groups.append(
            Group(
                status=row["pat_status"] or "(none)",
                gender=row["gender"] or "Unknown",
                prov_num=row["pri_prov"],
                prov_abbr=row["pri_prov_abbr"] or "",
                clinic_num=row["clinic_num"],
                clinic_abbr=row["clinic_abbr"] or "",
                patients=count,
                bands=[int(row[f"band_{i}"]) for i in range(len(AGE_BANDS))],
                age_unknown=int(row["age_unknown"]),
                mobile_ok=int(row["mobile_ok"]),
                email_ok=int(row["email_ok"]),
                address_ok=int(row["address_ok"]),
                text_ok=int(row["text_ok"]),
                contact=contact,
                est_balance=_money(row["est_balance"]),
                est_owing=_money(row["est_owing"]),
                est_credit=_money(row["est_credit"]),
                owing=int(row["owing"]),
                bal_total=_money(row["bal_total"]),
                families_owing=int(row["families_owing"]),
                families_owing_total=_money(row["families_owing_total"]),
            )
        )
    return groups


# -- patients list -------------------------------------------------------------------------
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("lname", "fname"),
    "pat_num": ("pat_num",),
    "birthdate": ("birthdate",),
    "status": ("pat_status",),
    "city": ("city",),
    "clinic": ("clinic_abbr",),
    "provider": ("pri_prov_abbr",),
    "balance": ("est_balance",),
    "first_visit": ("date_first_visit",),
}
"""Sort key in the URL → columns. Nothing else ever reaches ORDER BY."""

PER_PAGE_CHOICES = (25, 50, 100)

LIST_COLUMNS = (
    "practice",
    "pat_num",
    "lname",
    "fname",
    "middle_i",
    "preferred",
    "pat_status",
    "birthdate",
    "wireless_phone",
    "hm_phone",
    "wk_phone",
    "email",
    "city",
    "clinic_abbr",
    "pri_prov_abbr",
    "est_balance",
    "date_first_visit",
    "guarantor",
    "position",
    "missing_since",
)


@dataclass(frozen=True)
class PatientFilter:
    """The patients page's filters. ``search`` is a name, a PatNum, phone digits or an email."""

    practice: str | None = None
    search: str = ""
    status: str | None = None
    clinic: int | None = None
    provider: int | None = None
    include_missing: bool = False
    sort: str = "name"
    descending: bool = False
    page: int = 1
    per_page: int = 50

    def audit_detail(self) -> str:
        """The filters in use for the audit log: names and codes, never the search text."""
        used = []
        if self.search.strip():
            used.append(f"search({search_kind(self.search)})")
        for name in ("status", "clinic", "provider"):
            value = getattr(self, name)
            if value is not None:
                used.append(f"{name}={value}")
        if self.include_missing:
            used.append("include_missing")
        used.append(f"sort={self.sort}{'-desc' if self.descending else ''}")
        used.append(f"page={self.page}")
        return " ".join(used)


@dataclass(frozen=True)
class PatientPage:
    """One page of the patients list."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


SearchKind = Literal["none", "number", "email", "name"]


def search_kind(text: str) -> SearchKind:
    """How the search box's text is read: digits (PatNum or phone), an email, or a name."""
    text = text.strip()
    if not text:
        return "none"
    stripped = "".join(ch for ch in text if ch not in PHONE_SEPARATORS)
    if stripped.isascii() and stripped.isdigit():
        return "number"
    if "@" in text:
        return "email"
    return "name"


def _phone_contains(column: ColumnElement[Any], digits: str) -> ColumnElement[bool]:
    # the first LIKE is cheap and rejects most rows before the separators are stripped
    spread = "%" + "%".join(digits) + "%"
    return and_(column.like(spread), phone_digits(column).like(f"%{digits}%"))


def search_condition(text: str) -> ColumnElement[bool]:
    """The WHERE condition for the search box's text (bound parameters only)."""
    text = " ".join(text.split())[:100]
    kind = search_kind(text)
    if kind == "number":
        digits = "".join(ch for ch in text if ch.isdigit())
        options: list[ColumnElement[bool]] = []
        if text.isdigit() and len(digits) <= 18:
            options.append(P.pat_num == int(digits))
        if len(digits) >= 4:
            options.extend(_phone_contains(patients.c[name], digits) for name in PHONE_COLUMNS)
        return or_(*options) if options else literal(False)
    if kind == "email":
        return icontains(P.email, text)
    if "," in text:
        last, _, first = text.partition(",")
        condition = istarts(P.lname, last.strip())
        if first.strip():
            condition = and_(
                condition,
                or_(istarts(P.fname, first.strip()), istarts(P.preferred, first.strip())),
            )
        return condition
    tokens = text.split(" ")
    if len(tokens) == 1:
        return or_(istarts(P.lname, text), istarts(P.fname, text), istarts(P.preferred, text))
    head, tail = tokens[0], " ".join(tokens[1:])
    front, back = " ".join(tokens[:-1]), tokens[-1]
    return or_(
        and_(or_(istarts(P.fname, head), istarts(P.preferred, head)), istarts(P.lname, tail)),
        and_(istarts(P.fname, front), istarts(P.lname, back)),
        and_(istarts(P.lname, front), istarts(P.fname, back)),
    )


def filter_conditions(f: PatientFilter) -> list[ColumnElement[bool]]:
    """Every condition of the filter, the practice and missing rows included."""
    conditions = scope(f.practice, f.include_missing)
    if f.search.strip():
        conditions.append(search_condition(f.search))
    if f.status is not None:
        conditions.append(P.pat_status == f.status)
    if f.clinic is not None:
        conditions.append(P.clinic_num == f.clinic)
    if f.provider is not None:
        conditions.append(P.pri_prov == f.provider)
    return conditions


def _order(source: Any, f: PatientFilter) -> list[Any]:
    order = []
    for name in SORT_KEYS.get(f.sort, SORT_KEYS["name"]):
        # empty values last either way, on both databases (their defaults differ)
        column = source[name].desc() if f.descending else source[name].asc()
        order.append(column.nulls_last())
    order.extend([source["practice"].asc(), source["pat_num"].asc()])
    return order


def search_patients(
    engine: Engine, f: PatientFilter, *, known_total: int | None = None
) -> PatientPage:
    """One page of patients matching ``f``, sorted by a whitelisted key.

    ``known_total``: the number of matches when the caller already knows it (from cached
    counts); otherwise it comes with the page, from the same scan (``count(*) OVER ()``).
    """
    conditions = filter_conditions(f)
    per_page = f.per_page if f.per_page in PER_PAGE_CHOICES else 50
    columns = [patients.c[name] for name in LIST_COLUMNS]
    page = max(1, f.page)

    def plain(page: int) -> Any:
        return (
            select(*columns)
            .where(*conditions)
            .order_by(*_order(patients.c, f))
            .limit(per_page)
            .offset((page - 1) * per_page)
        )

    with engine.connect() as connection:
        if known_total is not None:
            total = known_total
            page = min(page, max(1, math.ceil(total / per_page)))
            rows = [dict(r) for r in connection.execute(plain(page)).mappings()]
        else:
            # a derived table: PostgreSQL then scans once for the page and the total instead
            # of walking the name index row by row to honour the ORDER BY
            matches = (
                select(*columns, func.count().over().label("_total"))
                .where(*conditions)
                .subquery("matches")
            )
            query = (
                select(matches)
                .order_by(*_order(matches.c, f))
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
            rows = [dict(r) for r in connection.execute(query).mappings()]
            if rows:
                total = int(rows[0]["_total"])
            elif page == 1:
                total = 0
            else:
                total = int(
                    connection.execute(select(func.count()).where(*conditions)).scalar_one()
                )
                if total and page > 1:
                    page = max(1, math.ceil(total / per_page))
                    rows = [dict(r) for r in connection.execute(plain(page)).mappings()]
    for row in rows:
        row.pop("_total", None)
    return PatientPage(rows=rows, total=total, page=page, per_page=per_page)


# -- one patient ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientDetail:
    """Everything stored for one patient, and the family that shares its guarantor."""

    row: dict[str, Any]
    family: list[dict[str, Any]]


def patient_detail(engine: Engine, practice: str, pat_num: int) -> PatientDetail | None:
    """The stored row (a missing one too) and its family, or None."""
    columns = [patients.c[name] for name in LIST_COLUMNS]
    with engine.connect() as connection:
        found = (
            connection.execute(select(patients).where(P.practice == practice, P.pat_num == pat_num))
            .mappings()
            .first()
        )
        if found is None:
            return None
        row = dict(found)
        family: list[dict[str, Any]] = []
        guarantor = row["guarantor"]
        if guarantor is not None:
            members = connection.execute(
                # no ORDER BY: it would tempt SQLite into the primary key instead of the
                # guarantor index; families are small and sorted below
                select(*columns).where(P.practice == practice, P.guarantor == guarantor).limit(500)
            ).mappings()
            family = [dict(r) for r in members if r["pat_num"] != pat_num]
            if guarantor != pat_num and all(r["pat_num"] != guarantor for r in family):
                head = (
                    connection.execute(
                        select(*columns).where(P.practice == practice, P.pat_num == guarantor)
                    )
                    .mappings()
                    .first()
                )
                if head is not None:
                    family.insert(0, dict(head))
        family.sort(key=lambda r: (r["pat_num"] != guarantor, r["pat_num"]))
    return PatientDetail(row=row, family=family)


PATIENT_FIELDS = PATIENT_FIELD_NAMES
"""The patient's fields in the API's order (all shown on the patient page)."""


# -- data quality --------------------------------------------------------------------------
QUALITY_CHECKS: dict[str, str] = {
    "duplicates": "Possible duplicates",
    "phones": "Malformed phone numbers",
    "no_phone": "No phone number",
    "emails": "Malformed emails",
    "guarantor": "No valid guarantor",
}

QualityScope = Literal["active", "all"]

QUALITY_COLUMNS = (
    "practice",
    "pat_num",
    "lname",
    "fname",
    "pat_status",
    "birthdate",
    "hm_phone",
    "wk_phone",
    "wireless_phone",
    "email",
    "guarantor",
    "clinic_abbr",
)

Key = tuple[str, int]


def _quality_where(practice: str | None, which: QualityScope) -> list[ColumnElement[bool]]:
    conditions = scope(practice)
    if which == "active":
        conditions.append(P.pat_status == ACTIVE_STATUS)
    return conditions


def _phone_problem() -> ColumnElement[bool]:
    return or_(
        *(
            and_(not_(blank(patients.c[name])), not_(valid_phone(patients.c[name])))
            for name in PHONE_COLUMNS
        )
    )


def _no_phone() -> ColumnElement[bool]:
    return and_(*(blank(patients.c[name]) for name in PHONE_COLUMNS))


def _email_problem() -> ColumnElement[bool]:
    return and_(not_(blank(P.email)), not_(valid_email(P.email)))


def _guarantor_problem() -> ColumnElement[bool]:
    head = aliased(patients, name="head")
    has_head = (
        select(literal(1))
        .where(head.c.practice == P.practice, head.c.pat_num == P.guarantor)
        .exists()
    )
    return or_(P.guarantor.is_(None), not_(has_head))


def quality_keys(engine: Engine, practice: str | None, which: QualityScope) -> dict[str, list[Key]]:
    """Each check's patients as (practice, PatNum), in the order an office manager works.

    One scan flags phones, emails and guarantors; duplicates (same last name, first name and
    birthdate, ignoring case and outer spaces) are grouped so that a group's rows are adjacent.
    """
    where = _quality_where(practice, which)
    phone, no_phone, email, guarantor = (
        _phone_problem(),
        _no_phone(),
        _email_problem(),
        _guarantor_problem(),
    )
    flags = select(
        P.practice,
        P.pat_num,
        case((phone, 1), else_=0).label("phones"),
        case((no_phone, 1), else_=0).label("no_phone"),
        case((email, 1), else_=0).label("emails"),
        case((guarantor, 1), else_=0).label("guarantor"),
    ).where(*where, or_(phone, no_phone, email, guarantor))
    flags = flags.order_by(func.lower(P.lname), func.lower(P.fname), P.practice, P.pat_num)
    lname, fname = func.lower(func.trim(P.lname)), func.lower(func.trim(P.fname))
    dup = (
        select(
            P.practice.label("d_practice"),
            lname.label("d_lname"),
            fname.label("d_fname"),
            P.birthdate.label("d_birthdate"),
        )
        .where(*where, P.birthdate.is_not(None), not_(blank(P.lname)))
        .group_by(P.practice, lname, fname, P.birthdate)
        .having(func.count() > 1)
        .subquery("dup")
    )
    duplicates = (
        select(P.practice, P.pat_num)
        .join(
            dup,
            and_(
                dup.c.d_practice == P.practice,
                dup.c.d_lname == lname,
                dup.c.d_fname == fname,
                dup.c.d_birthdate == P.birthdate,
            ),
        )
        .where(*where)
        .order_by(lname, fname, P.birthdate, P.practice, P.pat_num)
    )
    result: dict[str, list[Key]] = {name: [] for name in QUALITY_CHECKS}
    with engine.connect() as connection:
        for row in connection.execute(flags):
            key = (str(row.practice), int(row.pat_num))
            for name in ("phones", "no_phone", "emails", "guarantor"):
                if row._mapping[name]:
                    result[name].append(key)
        result["duplicates"] = [
            (str(r.practice), int(r.pat_num)) for r in connection.execute(duplicates)
        ]
    return result


def rows_for(
    engine: Engine, keys: Sequence[Key], columns: Iterable[str] = QUALITY_COLUMNS
) -> list[dict[str, Any]]:
    """The rows of these (practice, PatNum) keys, in the keys' order (absent ones skipped)."""
    by_practice: dict[str, list[int]] = {}
    for practice, pat_num in keys:
        by_practice.setdefault(practice, []).append(pat_num)
    selected = [patients.c[name] for name in dict.fromkeys(("practice", "pat_num", *columns))]
    found: dict[Key, dict[str, Any]] = {}
    with engine.connect() as connection:
        for practice, numbers in by_practice.items():
            query = select(*selected).where(P.practice == practice, P.pat_num.in_(numbers))
            for r in connection.execute(query).mappings():
                found[(r["practice"], r["pat_num"])] = dict(r)
    return [found[k] for k in keys if k in found]
