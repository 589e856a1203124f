"""What every dashboard query shares: portable SQL expressions, the practice scope, and
small date and money helpers.

Date arithmetic is done in Python (cut-off dates bound as parameters), so no dialect's date
functions are needed. Two checks have a dialect-specific spelling with the same meaning:
case-insensitive ``LIKE`` and "exactly ten digits" (see :class:`ilike_` and
:class:`ten_digits`). Rows whose ``missing_since`` is set (no longer returned by Open Dental)
are left out unless asked for.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, case, func, not_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from odbridge.store.schema import patients
from odbridge.vocab import PatStatus

P = patients.c

ACTIVE_STATUS = PatStatus.PATIENT.value
"""Open Dental's PatStatus of an active patient."""

PHONE_SEPARATORS = ("(", ")", "-", " ", ".", "+", "/")
PHONE_COLUMNS = ("hm_phone", "wk_phone", "wireless_phone")

Practices = str | Collection[str] | None
"""The practices a query covers: one, several (a user's own), or None for every practice."""


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


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def sum_if(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
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


def practice_condition(
    column: ColumnElement[Any], practices: Practices
) -> list[ColumnElement[bool]]:
    """``column`` limited to one practice, to several, or (None) not at all."""
    if practices is None:
        return []
    if isinstance(practices, str):
        return [column == practices]
    return [column.in_(sorted(practices))]


def scope(practices: Practices, include_missing: bool = False) -> list[ColumnElement[bool]]:
    """Conditions for the practices (None: all) and, by default, rows still in Open Dental."""
    conditions = practice_condition(P.practice, practices)
    if not include_missing:
        conditions.append(P.missing_since.is_(None))
    return conditions


def practice_label(practices: Practices) -> str | None:
    """How the audit log names the practices of a page: one name, several, or None (all)."""
    if practices is None or isinstance(practices, str):
        return practices
    return ",".join(sorted(practices))


def money(value: Any) -> Decimal:
    """A money value from the store, to the cent (None: 0.00)."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))
