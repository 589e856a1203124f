"""Sync state: one small record per practice and resource, its repository, and the choice
of what the next run does.

The record says where incremental reads start (the cursor) and, while a full or reconcile
pass is unfinished, where it resumes: the offset after its last committed page, the key of
the last row it read (to detect Offset drift on resume), the run that began it and the
cursor it will leave once it completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from odbridge.store.runlog import RunMode, utcnow
from odbridge.store.schema import sync_state

__all__ = ["DEFAULT_RECONCILE_EVERY", "PassState", "StateRepository", "SyncState", "choose_mode"]

DEFAULT_RECONCILE_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class PassState:
    """An unfinished full or reconcile pass: where it resumes."""

    run_id: int
    """The run that began it: rows it returned are marked with this id."""
    mode: RunMode
    offset: int = 0
    """Rows read so far, in the listing's order: the next page starts here."""
    last_key: int | None = None
    """The key of the last row read (the listing is ordered by key): the drift check."""
    first_page_time: str | None = None
    """``serverDateTime`` of the pass's first page: the cursor it leaves when complete."""


@dataclass(frozen=True)
class SyncState:
    """Where one practice's resource stands."""

    practice: str
    resource: str
    cursor: str | None = None
    unfinished: PassState | None = None
    runs_since_reconcile: int = 0
    updated_at: datetime | None = field(default=None, compare=False)

    def with_pass(self, unfinished: PassState | None) -> SyncState:
        """This state with another unfinished pass (None: no pass in progress)."""
        return replace(self, unfinished=unfinished)


def choose_mode(
    requested: RunMode,
    state: SyncState,
    *,
    last_pass: datetime | None,
    now: datetime,
    reconcile_every: timedelta,
    incremental: bool = True,
) -> RunMode:
    """What a run should do.

    ``auto``: finish an unfinished pass; a full pass when there is no cursor yet (or the
    resource has no change filter, ``incremental=False``); a reconcile when the last
    completed pass finished ``reconcile_every`` ago or more; else an incremental run.
    An explicit ``incremental`` without a cursor (or without a change filter) becomes a
    full pass.
    """
    if requested == RunMode.AUTO:
        if state.unfinished is not None:
            return state.unfinished.mode
        if state.cursor is None or not incremental:
            return RunMode.FULL
        if last_pass is None or now - last_pass >= reconcile_every:
            return RunMode.RECONCILE
        return RunMode.INCREMENTAL
    if requested == RunMode.INCREMENTAL and (state.cursor is None or not incremental):
        return RunMode.FULL
    return requested


def _row_to_state(practice: str, resource: str, row: Any) -> SyncState:
    unfinished = None
    if row["full_offset"] is not None:
        unfinished = PassState(
            run_id=int(row["full_pass"]),
            mode=RunMode(row["full_mode"] or RunMode.FULL),
            offset=int(row["full_offset"]),
            last_key=row["full_last_key"],
            first_page_time=row["full_cursor"],
        )
    return SyncState(
        practice,
        resource,
        cursor=row["cursor"],
        unfinished=unfinished,
        runs_since_reconcile=int(row["runs_since_reconcile"] or 0),
        updated_at=row["updated_at"],
    )


_KEYS = ("practice", "resource")
_SAVED = (
    *_KEYS,
    "cursor",
    "full_offset",
    "full_pass",
    "full_mode",
    "full_last_key",
    "full_cursor",
    "runs_since_reconcile",
    "updated_at",
)


class StateRepository:
    """Loads and saves :class:`SyncState` in ``sync_state``."""

    def __init__(self, store: Engine) -> None:
        self.store = store
        insert = postgresql.insert if store.dialect.name == "postgresql" else sqlite.insert
        # One statement with bound values, compiled once (it runs with every page).
        statement = insert(sync_state).values({name: bindparam(name) for name in _SAVED})
        changing = {name: statement.excluded[name] for name in _SAVED if name not in _KEYS}
        self._save = statement.on_conflict_do_update(index_elements=list(_KEYS), set_=changing)

    def load(self, practice: str, resource: str) -> SyncState:
        """The state (an empty one if the resource was never synced)."""
        with self.store.connect() as connection:
            row = (
                connection.execute(
                    select(sync_state).where(
                        sync_state.c.practice == practice, sync_state.c.resource == resource
                    )
                )
                .mappings()
                .first()
            )
        return (
            SyncState(practice, resource) if row is None else _row_to_state(practice, resource, row)
        )

    def save(self, connection: Connection, state: SyncState) -> None:
        """Write ``state`` inside the caller's transaction (with the page it describes)."""
        unfinished = state.unfinished
        values: dict[str, Any] = {
            "cursor": state.cursor,
            "full_offset": unfinished.offset if unfinished else None,
            "full_pass": unfinished.run_id if unfinished else None,
            "full_mode": str(unfinished.mode) if unfinished else None,
            "full_last_key": unfinished.last_key if unfinished else None,
            "full_cursor": unfinished.first_page_time if unfinished else None,
            "runs_since_reconcile": state.runs_since_reconcile,
            "updated_at": utcnow(),
        }
        connection.execute(
            self._save, {"practice": state.practice, "resource": state.resource, **values}
        )
