"""The data-quality page: patients to fix in Open Dental (duplicates, malformed phones and
emails, no phone, no valid guarantor)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, and_, case, func, literal, not_, or_, select
from sqlalchemy.orm import aliased

from odbridge.dashboard.queries.sql import (
    ACTIVE_STATUS,
    PHONE_COLUMNS,
    P,
    Practices,
    blank,
    scope,
    valid_email,
    valid_phone,
)
from odbridge.store.schema import patients

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


def _quality_where(practice: Practices, which: QualityScope) -> list[ColumnElement[bool]]:
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


def quality_keys(engine: Engine, practice: Practices, which: QualityScope) -> dict[str, list[Key]]:
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
