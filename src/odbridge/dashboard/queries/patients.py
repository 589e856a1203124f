"""The patients page (search, filters, sorting, paging) and one patient with the family."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, and_, func, literal, or_, select

from odbridge.dashboard.queries.sql import (
    PHONE_COLUMNS,
    PHONE_SEPARATORS,
    P,
    Practices,
    icontains,
    istarts,
    phone_digits,
    scope,
)
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients

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

    practice: Practices = None
    search: str = ""
    birthdate: date | None = None
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
        if self.birthdate is not None:
            used.append("birthdate")  # never the date itself
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
    if f.birthdate is not None:
        conditions.append(P.birthdate == f.birthdate)
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
