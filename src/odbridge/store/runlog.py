"""The run log (``sync_runs``): its vocabulary, a small repository to write it, and the
status reads that ``odbridge status`` and the dashboard show.

Times are UTC (our clock: bookkeeping only, never a cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache

from sqlalchemy import Engine, Update, and_, bindparam, func, select, update
from sqlalchemy.engine import Connection

from odbridge.store.schema import patients, quarantine, sync_runs, sync_state

__all__ = [
    "COUNT_COLUMNS",
    "PracticeStatus",
    "RunLog",
    "RunMode",
    "RunOutcome",
    "practice_statuses",
    "utcnow",
]


class RunOutcome(StrEnum):
    """How a run ended (``sync_runs.outcome``)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class RunMode(StrEnum):
    """What kind of run (``sync_runs.mode``); ``auto`` chooses one of the others."""

    AUTO = "auto"
    FULL = "full"
    INCREMENTAL = "incremental"
    RECONCILE = "reconcile"


PASS_MODES = (RunMode.FULL, RunMode.RECONCILE)
"""Runs that read every page, and so may find rows the source stopped returning."""

COUNT_COLUMNS = (
    "pages",
    "rows_received",
    "rows_inserted",
    "rows_updated",
    "rows_missing",
    "rows_confirmed",
    "rows_quarantined",
    "requests",
    "throttled",
    "retries",
)
"""The counters of a run, as ``sync_runs`` columns (saved with every page)."""


def utcnow() -> datetime:
    """Our clock, for bookkeeping only (run times, first seen); never for cursors."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@cache
def _counts_update(names: tuple[str, ...]) -> Update:
    """The counters' update with bound values, compiled once (it runs with every page)."""
    return (
        update(sync_runs)
        .where(sync_runs.c.id == bindparam("run_id"))
        .values({name: bindparam(name) for name in names})
    )


class RunLog:
    """Writes the run log of one practice's resource."""

    def __init__(
        self,
        store: Engine,
        practice: str,
        resource: str,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.practice = practice
        self.resource = resource
        self.clock = clock

    def start(self, mode: RunMode) -> int:
        """Log a run as started; its id."""
        zeros = dict.fromkeys(COUNT_COLUMNS, 0)
        with self.store.begin() as connection:
            result = connection.execute(
                sync_runs.insert().values(
                    practice=self.practice,
                    resource=self.resource,
                    mode=str(mode),
                    started_at=self.clock(),
                    outcome=str(RunOutcome.RUNNING),
                    **zeros,
                )
            )
            key = result.inserted_primary_key
            if key is None:  # pragma: no cover
                raise RuntimeError("the run log did not return an id")
            return int(key[0])

    @staticmethod
    def save_counts(connection: Connection, run_id: int, counts: Mapping[str, int]) -> None:
        """Store the counters so far, inside the caller's transaction (with its page)."""
        unknown = set(counts) - set(COUNT_COLUMNS)
        if unknown:
            raise ValueError(f"not run-log counters: {sorted(unknown)}")
        connection.execute(_counts_update(tuple(counts)), {**counts, "run_id": run_id})

    def finish(
        self,
        run_id: int,
        outcome: RunOutcome,
        *,
        counts: Mapping[str, int],
        error: str | None,
    ) -> None:
        """Log how the run ended."""
        with self.store.begin() as connection:
            self.save_counts(connection, run_id, counts)
            connection.execute(
                update(sync_runs)
                .where(sync_runs.c.id == run_id)
                .values(
                    finished_at=self.clock(),
                    outcome=str(outcome),
                    error=error,
                )
            )

    def close_abandoned(self) -> int:
        """Runs left 'running' by a killed process become 'interrupted'; how many."""
        with self.store.begin() as connection:
            result = connection.execute(
                update(sync_runs)
                .where(
                    and_(
                        sync_runs.c.practice == self.practice,
                        sync_runs.c.resource == self.resource,
                        sync_runs.c.outcome == str(RunOutcome.RUNNING),
                    )
                )
                .values(
                    outcome=str(RunOutcome.INTERRUPTED), error="the process stopped during the run"
                )
            )
        return int(result.rowcount or 0)

    def last_completed_pass(self) -> datetime | None:
        """When the last full or reconcile pass that completed finished (None: never)."""
        with self.store.connect() as connection:
            found = connection.execute(
                select(func.max(sync_runs.c.finished_at)).where(
                    sync_runs.c.practice == self.practice,
                    sync_runs.c.resource == self.resource,
                    sync_runs.c.outcome == str(RunOutcome.OK),
                    sync_runs.c.mode.in_([str(m) for m in PASS_MODES]),
                )
            ).scalar()
        return found if isinstance(found, datetime) else None


@dataclass(frozen=True)
class PracticeStatus:
    """The store's view of one practice (its patients)."""

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
    quarantined: int = 0
    """Rows of any resource waiting in quarantine (they failed validation)."""
    last_reconcile: datetime | None = None
    """When the last completed full or reconcile pass of patients finished."""
    reconcile_confirmed: int = 0
    """What that pass found: rows not listed but still there (patients now Deleted)."""
    reconcile_missing: int = 0
    """What that pass found: rows gone outright (404 when asked one by one)."""


def _quarantine_counts(connection: Connection) -> dict[str, int]:
    return {
        str(row[0]): int(row[1])
        for row in connection.execute(
            select(quarantine.c.practice, func.count()).group_by(quarantine.c.practice)
        )
    }


def practice_statuses(store: Engine) -> list[PracticeStatus]:
    """One entry per practice that has rows, state or runs in the store."""
    with store.connect() as connection:
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
                .where(sync_runs.c.outcome == str(RunOutcome.OK))
                .group_by(sync_runs.c.practice)
            ).all()
        )
        latest_pass = (
            select(sync_runs.c.practice, func.max(sync_runs.c.id).label("id"))
            .where(
                sync_runs.c.resource == "patients",
                sync_runs.c.outcome == str(RunOutcome.OK),
                sync_runs.c.mode.in_([str(m) for m in PASS_MODES]),
            )
            .group_by(sync_runs.c.practice)
            .subquery()
        )
        passes = {
            row.practice: row
            for row in connection.execute(
                select(sync_runs).join(latest_pass, sync_runs.c.id == latest_pass.c.id)
            )
        }
        held = _quarantine_counts(connection)
    names = sorted(set(counts) | set(states) | set(last_runs) | set(held))
    result = []
    for name in names:
        state, run, done = states.get(name), last_runs.get(name), passes.get(name)
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
                quarantined=held.get(name, 0),
                last_reconcile=done.finished_at if done else None,
                reconcile_confirmed=int(done.rows_confirmed) if done else 0,
                reconcile_missing=int(done.rows_missing) if done else 0,
            )
        )
    return result
