"""Rows that failed validation, held apart until they validate (the ``quarantine`` table).

An entry names the row (practice, resource, key: the PatNum for patients), the field at
fault and why, never the value. The sync writes entries and removes them when the row
validates on a later run; ``odbridge status`` and the dashboard read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from odbridge.store.schema import quarantine

__all__ = ["QuarantinedRow", "quarantine_count", "quarantined_rows"]


@dataclass(frozen=True)
class QuarantinedRow:
    """One held row: where it is from, which field failed and why (never its value)."""

    practice: str
    resource: str
    key: int
    field: str | None
    problem: str
    first_seen_at: datetime
    last_seen_at: datetime
    attempts: int


def quarantine_count(
    store: Engine, practice: str | None = None, resource: str | None = None
) -> int:
    """How many rows wait in quarantine (of one practice / resource, or all)."""
    query = select(func.count()).select_from(quarantine)
    if practice is not None:
        query = query.where(quarantine.c.practice == practice)
    if resource is not None:
        query = query.where(quarantine.c.resource == resource)
    with store.connect() as connection:
        return int(connection.execute(query).scalar_one())


def quarantined_rows(
    store: Engine, practice: str | None = None, *, limit: int = 500
) -> list[QuarantinedRow]:
    """The held rows, oldest first (of one practice, or all)."""
    query = select(quarantine).order_by(
        quarantine.c.first_seen_at, quarantine.c.practice, quarantine.c.resource, quarantine.c.key
    )
    if practice is not None:
        query = query.where(quarantine.c.practice == practice)
    with store.connect() as connection:
        rows = connection.execute(query.limit(limit)).mappings().all()
    return [QuarantinedRow(**dict(row)) for row in rows]
