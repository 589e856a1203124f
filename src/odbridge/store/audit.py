"""The audit log: who viewed or exported which patient data, when, and how many rows.

Every page view of patient data and every export writes one entry. Entries hold names of
pages, formats and filters, never patient fields; the patients an entry showed are listed
(practice, PatNum) in ``audit_patients``, so "who viewed patient X" has an answer.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Select, cast, literal, select, update

from odbridge.store.schema import audit_log, audit_patients


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


PatientKey = tuple[str, int]
"""(practice, PatNum)."""


def record_in(
    connection: Connection,
    *,
    username: str,
    action: str,
    what: str,
    rows: int | None = None,
    practice: str | None = None,
    deidentified: bool | None = None,
    detail: str | None = None,
    pat_nums: Iterable[PatientKey] = (),
    pat_nums_query: Select[Any] | None = None,
) -> int:
    """Write one entry inside the caller's transaction, with the patients it showed; its id.

    ``pat_nums_query``, instead of ``pat_nums``: a SELECT of distinct (practice, PatNum)
    pairs, copied into the per-patient table by the database (an export of a whole store
    lists every patient without holding them in memory)."""
    result = connection.execute(
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
    entry_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    shown = sorted({(str(p), int(n)) for p, n in pat_nums})
    if shown:
        connection.execute(
            audit_patients.insert(),
            [{"audit_id": entry_id, "practice": p, "pat_num": n} for p, n in shown],
        )
    if pat_nums_query is not None:
        keys = pat_nums_query.subquery()
        connection.execute(
            audit_patients.insert().from_select(
                ["audit_id", "practice", "pat_num"],
                select(cast(literal(entry_id), Integer), keys.c[0], keys.c[1]),
            )
        )
    return entry_id


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
    pat_nums: Iterable[PatientKey] = (),
    pat_nums_query: Select[Any] | None = None,
) -> int:
    """Write one entry (its own transaction) with the patients it showed (``pat_nums``, as
    (practice, PatNum), or ``pat_nums_query``: see :func:`record_in`); its id. Raises if the
    entry cannot be written: callers showing patient data must not show it then."""
    with engine.begin() as connection:
        return record_in(
            connection,
            username=username,
            action=action,
            what=what,
            rows=rows,
            practice=practice,
            deidentified=deidentified,
            detail=detail,
            pat_nums=pat_nums,
            pat_nums_query=pat_nums_query,
        )


def finish(
    engine: Engine,
    entry_id: int,
    *,
    rows: int,
    detail: str | None = None,
    pat_nums: Iterable[PatientKey] = (),
) -> None:
    """Complete an entry written before its data was shown (a streamed listing): the real
    row count, a detail, and the patients it showed."""
    with engine.begin() as connection:
        connection.execute(
            update(audit_log).where(audit_log.c.id == entry_id).values(rows=rows, detail=detail)
        )
        shown = sorted({(str(p), int(n)) for p, n in pat_nums})
        if shown:
            connection.execute(
                audit_patients.insert(),
                [{"audit_id": entry_id, "practice": p, "pat_num": n} for p, n in shown],
            )


def update_detail(engine: Engine, entry_id: int, detail: str) -> None:
    """Replace an entry's detail (a running count, such as refused logins in one lock
    window, kept in one entry instead of one per attempt)."""
    with engine.begin() as connection:
        connection.execute(
            update(audit_log).where(audit_log.c.id == entry_id).values(detail=detail)
        )


def viewers_of(engine: Engine, practice: str, pat_num: int) -> list[AuditEntry]:
    """Every entry that showed or exported this patient, newest first: who viewed patient X."""
    query = (
        select(audit_log)
        .join(audit_patients, audit_patients.c.audit_id == audit_log.c.id)
        .where(audit_patients.c.practice == practice, audit_patients.c.pat_num == pat_num)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    )
    with engine.connect() as connection:
        return [_entry(row) for row in connection.execute(query).mappings()]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        at=row["at"],
        username=row["username"],
        action=row["action"],
        what=row["what"],
        rows=row["rows"],
        practice=row["practice"],
        deidentified=row["deidentified"],
        detail=row["detail"],
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
    return [_entry(row) for row in found]
