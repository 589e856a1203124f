"""The audit log: who viewed or exported which patient data, when, and how many rows.

Every page view of patient data and every export writes one entry. Entries hold names of
pages, formats and filters, never patient fields.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from odbridge.store.schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log."""

    at: datetime
    username: str
    action: str
    what: str
    rows: int | None = None
    practice: str | None = None
    deidentified: bool | None = None
    detail: str | None = None


def local_user() -> str:
    """The operating-system user, for entries written by the command line."""
    try:
        return f"os:{getpass.getuser()}"
    except OSError:  # pragma: no cover - no user name available
        return "os:unknown"


def record(
    engine: Engine,
    *,
    username: str,
    action: str,
    what: str,
    rows: int | None = None,
    practice: str | None = None,
    deidentified: bool | None = None,
    detail: str | None = None,
) -> None:
    """Write one entry (its own transaction)."""
    with engine.begin() as connection:
        connection.execute(
            audit_log.insert().values(
                at=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                username=username,
                action=action,
                what=what[:255],
                rows=rows,
                practice=practice,
                deidentified=deidentified,
                detail=detail,
            )
        )


def entries(engine: Engine, *, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """The newest entries first."""
    query = (
        select(audit_log)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as connection:
        found = connection.execute(query).mappings().all()
    return [
        AuditEntry(
            at=row["at"],
            username=row["username"],
            action=row["action"],
            what=row["what"],
            rows=row["rows"],
            practice=row["practice"],
            deidentified=row["deidentified"],
            detail=row["detail"],
        )
        for row in found
    ]
