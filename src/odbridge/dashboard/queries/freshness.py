"""Which practices the store holds and how current each one is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, union

from odbridge.dashboard.queries.sql import P, Practices
from odbridge.store.runlog import practice_statuses
from odbridge.store.schema import sync_runs


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
    quarantined: int
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


def _covers(practices: Practices, name: str) -> bool:
    if practices is None:
        return True
    return name == practices if isinstance(practices, str) else name in practices


def freshness(
    engine: Engine, practices: Practices, *, sync_every: timedelta | None = None
) -> list[Freshness]:
    """Last sync, its outcome and (when the schedule is known) the next one, per practice."""
    statuses = [s for s in practice_statuses(engine) if _covers(practices, s.practice)]
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
            quarantined=s.quarantined,
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
