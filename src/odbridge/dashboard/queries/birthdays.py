"""The overview's birthday list: active patients whose birthday falls in this week."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select

from odbridge.dashboard.queries.sql import ACTIVE_STATUS, P, age_on

OLDEST_AGE = 120
"""Birthdates are matched this many years back."""


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


def week_birthdays(
    connection: Any, where: Sequence[ColumnElement[bool]], today: date
) -> list[Birthday]:
    """Active patients (within ``where``) with a birthday in the week of ``today``, by day
    and name."""
    week_start, week_end = week_of(today)
    rows = connection.execute(
        select(P.practice, P.pat_num, P.lname, P.fname, P.preferred, P.birthdate).where(
            *where,
            P.pat_status == ACTIVE_STATUS,
            P.birthdate.in_(birthdates_in(week_start, week_end, today)),
        )
    ).all()
    found = []
    for row in rows:
        day = next(
            d
            for d in (
                birthday_in(row.birthdate, week_start.year),
                birthday_in(row.birthdate, week_end.year),
            )
            if week_start <= d <= week_end
        )
        found.append(
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
    found.sort(key=lambda b: (b.day, (b.lname or "").lower(), (b.fname or "").lower()))
    return found
