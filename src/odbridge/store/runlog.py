"""Status reads of the run log: each practice's last run, freshness and row counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from odbridge.store.schema import patients, sync_runs, sync_state


@dataclass(frozen=True)
class PracticeStatus:
    """The store's view of one practice."""

    practice: str
    patients: int
    missing: int
    cursor: str | None
    full_in_progress: bool
    last_mode: str | None
    last_outcome: str | None
    last_started: datetime | None
    last_finished: datetime | None
    last_error: str | None
    last_ok: datetime | None


def practice_statuses(engine: Engine) -> list[PracticeStatus]:
    """One entry per practice that has rows, state or runs in the store."""
    with engine.connect() as connection:
        counts = {
            row.practice: (int(row.total), int(row.missing or 0))
            for row in connection.execute(
                select(
                    patients.c.practice,
                    func.count().label("total"),
                    func.count(patients.c.missing_since).label("missing"),
                ).group_by(patients.c.practice)
            )
        }
        states = {
            row.practice: row
            for row in connection.execute(
                select(sync_state).where(sync_state.c.resource == "patients")
            )
        }
        latest = (
            select(sync_runs.c.practice, func.max(sync_runs.c.id).label("id"))
            .group_by(sync_runs.c.practice)
            .subquery()
        )
        last_runs = {
            row.practice: row
            for row in connection.execute(
                select(sync_runs).join(latest, sync_runs.c.id == latest.c.id)
            )
        }
        last_ok = dict(
            connection.execute(
                select(sync_runs.c.practice, func.max(sync_runs.c.finished_at))
                .where(sync_runs.c.outcome == "ok")
                .group_by(sync_runs.c.practice)
            ).all()
        )
    names = sorted(set(counts) | set(states) | set(last_runs))
    result = []
    for name in names:
        state, run = states.get(name), last_runs.get(name)
        total, missing = counts.get(name, (0, 0))
        result.append(
            PracticeStatus(
                practice=name,
                patients=total,
                missing=missing,
                cursor=state.cursor if state else None,
                full_in_progress=bool(state and state.full_offset is not None),
                last_mode=run.mode if run else None,
                last_outcome=run.outcome if run else None,
                last_started=run.started_at if run else None,
                last_finished=run.finished_at if run else None,
                last_error=run.error if run else None,
                last_ok=last_ok.get(name),
            )
        )
    return result
