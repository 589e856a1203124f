"""The overview page's figures: counts by status, age, provider, clinic, contact details,
balances, new patients by month, top places and the week's birthdays.

Aggregates are computed in SQL; Python only adds up a few hundred grouped rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, not_, or_, select

from odbridge.dashboard.queries.birthdays import Birthday, week_birthdays, week_of
from odbridge.dashboard.queries.freshness import Freshness, freshness
from odbridge.dashboard.queries.sql import (
    ACTIVE_STATUS,
    P,
    Practices,
    blank,
    count_if,
    money,
    scope,
    sum_if,
    valid_email,
    valid_phone,
    years_before,
)
from odbridge.vocab import CONTACT_METHOD_LABELS, ContactMethod, PatStatus

PAT_STATUSES: tuple[str, ...] = tuple(status.value for status in PatStatus)
"""Open Dental's PatStatus names, in its order (the client's enum is the one definition)."""
CONTACT_METHODS: tuple[str, ...] = tuple(method.value for method in ContactMethod)
CONTACT_LABELS = CONTACT_METHOD_LABELS
"""Friendly names of the contact methods (one vocabulary: :mod:`odbridge.vocab`)."""

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


@dataclass
class Overview:
    """Everything on the overview page for one practice or all of them."""

    practice: Practices
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


def _month_start(today: date, months_back: int) -> date:
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def overview(
    engine: Engine,
    practice: Practices,
    *,
    today: date,
    include_missing: bool = False,
    sync_every: timedelta | None = None,
) -> Overview:
    """The overview's figures for ``practice`` (one, several, or None: all practices)."""
    where = scope(practice, include_missing)
    first_month = _month_start(today, NEW_PATIENT_MONTHS - 1)
    week_start, week_end = week_of(today)
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
        birthdays = week_birthdays(connection, where, today)
    months: Counter[date] = Counter({_month_start(today, i): 0 for i in range(NEW_PATIENT_MONTHS)})
    for day, count in new_rows:
        months[day.replace(day=1)] += int(count)
    cities: Counter[str] = Counter()
    zips: Counter[str] = Counter()
    for city, zip_code, count in places:
        cities[" ".join((city or "").split()).title() or "(none)"] += int(count)
        zips[(zip_code or "").strip()[:5] or "(none)"] += int(count)
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
        band_columns.append(count_if(condition).label(f"band_{i}"))
    contact_columns = [
        count_if(P.prefer_contact_method == method).label(f"contact_{method}")
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
            count_if(or_(P.birthdate.is_(None), P.birthdate > today)).label("age_unknown"),
            count_if(valid_phone(P.wireless_phone)).label("mobile_ok"),
            count_if(valid_email(P.email)).label("email_ok"),
            count_if(has_address).label("address_ok"),
            count_if(P.txt_msg_ok == "Yes").label("text_ok"),
            count_if(P.prefer_contact_method.is_(None)).label("contact_unset"),
            *contact_columns,
            func.sum(P.est_balance).label("est_balance"),
            sum_if(P.est_balance > 0, P.est_balance).label("est_owing"),
            sum_if(P.est_balance < 0, P.est_balance).label("est_credit"),
            count_if(P.est_balance > 0).label("owing"),
            func.sum(P.bal_total).label("bal_total"),
            count_if(P.bal_total > 0).label("families_owing"),
            sum_if(P.bal_total > 0, P.bal_total).label("families_owing_total"),
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
                est_balance=money(row["est_balance"]),
                est_owing=money(row["est_owing"]),
                est_credit=money(row["est_credit"]),
                owing=int(row["owing"]),
                bal_total=money(row["bal_total"]),
                families_owing=int(row["families_owing"]),
                families_owing_total=money(row["families_owing_total"]),
            )
        )
    return groups
