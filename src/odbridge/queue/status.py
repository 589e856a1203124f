"""How many sync jobs wait, run and failed: read from the store (no Procrastinate import)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

__all__ = ["QueueCounts", "queue_counts"]


@dataclass(frozen=True)
class QueueCounts:
    """Jobs of the queue by state."""

    waiting: int
    running: int
    failed: int
    succeeded: int


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
    counts = {str(status): int(n) for status, n in rows}
    return QueueCounts(
        waiting=counts.get("todo", 0),
        running=counts.get("doing", 0),
        failed=counts.get("failed", 0),
        succeeded=counts.get("succeeded", 0),
    )
