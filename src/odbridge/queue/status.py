"""How many sync jobs wait, run and failed, and which workers are alive: read from the
store's Procrastinate tables (no Procrastinate import)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

__all__ = ["QueueCounts", "WorkerStatus", "queue_counts", "queue_workers"]


@dataclass(frozen=True)
class QueueCounts:
    """Jobs of the queue by state."""

    waiting: int
    running: int
    succeeded: int
    failed_practices: tuple[str, ...] = ()
    """The practices whose newest sync job failed (after its retries): a failure that a
    later job of the practice made good no longer counts."""

    @property
    def failed(self) -> int:
        """How many practices' newest sync job failed."""
        return len(self.failed_practices)


def queue_counts(store: Engine) -> QueueCounts | None:
    """The queue's job counts, or None when the store has no queue (SQLite, or never used)."""
    if store.dialect.name != "postgresql":
        return None
    with store.connect() as connection:
        if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            return None
        rows = connection.execute(
            text(
                "SELECT status::text, count(*) FROM procrastinate_jobs "
                "WHERE queue_name = 'sync' GROUP BY status"
            )
        ).all()
        failed = connection.execute(
            text(
                "SELECT practice FROM (SELECT DISTINCT ON (args->>'practice') "
                "args->>'practice' AS practice, status FROM procrastinate_jobs "
                "WHERE queue_name = 'sync' ORDER BY args->>'practice', id DESC) newest "
                "WHERE status = 'failed' ORDER BY practice"
            )
        ).scalars()
        failed_practices = tuple(str(p) for p in failed)
    counts = {str(status): int(n) for status, n in rows}
    return QueueCounts(
        waiting=counts.get("todo", 0),
        running=counts.get("doing", 0),
        succeeded=counts.get("succeeded", 0),
        failed_practices=failed_practices,
    )


@dataclass(frozen=True)
class WorkerStatus:
    """A worker registered in the queue (Procrastinate's ``procrastinate_workers``): it
    sends a heartbeat every 10 s while it runs and unregisters when it stops cleanly."""

    worker_id: int
    seconds_since_heartbeat: float
    running: tuple[str, ...]
    """The practices whose sync jobs it is running now."""


def queue_workers(store: Engine) -> list[WorkerStatus]:
    """The registered workers, oldest first; empty without a queue."""
    if store.dialect.name != "postgresql":
        return []
    with store.connect() as connection:
        if connection.execute(text("SELECT to_regclass('procrastinate_workers')")).scalar() is None:
            return []
        rows = connection.execute(
            text(
                "SELECT w.id, extract(epoch FROM now() - w.last_heartbeat), "
                "array_remove(array_agg(j.args->>'practice' ORDER BY j.args->>'practice'), NULL) "
                "FROM procrastinate_workers w LEFT JOIN procrastinate_jobs j "
                "ON j.worker_id = w.id AND j.status = 'doing' AND j.queue_name = 'sync' "
                "GROUP BY w.id, w.last_heartbeat ORDER BY w.id"
            )
        ).all()
    return [
        WorkerStatus(int(worker_id), max(0.0, float(age)), tuple(practices or ()))
        for worker_id, age, practices in rows
    ]
