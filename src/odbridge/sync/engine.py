"""Full, incremental and reconciling sync runs of one resource of one practice.

- **Full** (and **reconcile**, the same pass run periodically): every page of the resource;
  each page's upsert and the checkpoint "resume after this page" commit in one transaction,
  so a crash at any instant resumes without losing or duplicating a row. When the pass
  completes, rows it did not return get ``missing_since`` (never deleted), and the cursor
  becomes the server time of its first page minus the overlap window.
- **Incremental**: only rows changed since the cursor. The next cursor is the earliest
  ``serverDateTime`` of the run minus the overlap (never our clock, never backwards), so an
  edit made while a run is going is read again by the next one.

Rows are compared by a digest of their content: re-reading an unchanged row writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from odbridge.api.client import Client
from odbridge.api.errors import OpenDentalError
from odbridge.api.models import API_DATETIME_FORMAT, ApiModel
from odbridge.api.paging import PageInfo
from odbridge.store.db import describe_db_error
from odbridge.store.schema import sync_runs, sync_state
from odbridge.sync.resources import PATIENTS, Resource, Row

log = logging.getLogger("odbridge.sync")

RunMode = Literal["auto", "full", "incremental", "reconcile"]
DEFAULT_OVERLAP = timedelta(hours=1)
DEFAULT_RECONCILE_EVERY = 24


def utcnow() -> datetime:
    """Our clock, for bookkeeping only (run times, first seen); never for cursors."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Progress:
    """What a run has done so far; passed to the progress callback after every page."""

    practice: str
    resource: str
    mode: str
    pages: int = 0
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    missing: int = 0
    expected_rows: int | None = None
    page_size: int = 100
    interval: float = 0.0
    done: bool = False

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, from the rate limit and the rows expected (None when unknown)."""
        if self.expected_rows is None or self.done:
            return None
        left = max(0, self.expected_rows - self.rows)
        return (left // self.page_size + 1) * self.interval


@dataclass
class RunSummary:
    """The outcome of one run, as written to ``sync_runs``."""

    run_id: int
    practice: str
    mode: str
    outcome: str
    progress: Progress
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    error: str | None = None
    cursor: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class SyncInterrupted(Exception):  # noqa: N818 - an outcome, not a failure
    """The run stopped early on request (SIGINT/SIGTERM) after committing its last page."""


class SyncEngine:
    """Syncs one resource of one practice from a :class:`Client` into the store."""

    def __init__(
        self,
        engine: Engine,
        client: Client,
        practice: str,
        *,
        resource: Resource = PATIENTS,
        overlap: timedelta = DEFAULT_OVERLAP,
        reconcile_every: int = DEFAULT_RECONCILE_EVERY,
        on_progress: Callable[[Progress], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.practice = practice
        self.resource = resource
        self.overlap = overlap
        self.reconcile_every = reconcile_every
        self.on_progress = on_progress
        self.stop = stop or threading.Event()
        self.table = resource.table
        self._key = self.table.c[resource.key]
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- public -------------------------------------------------------------------------------
    def run(self, mode: RunMode = "auto") -> RunSummary:
        """Run once; ``auto`` picks full (first time or unfinished), reconcile (every
        ``reconcile_every`` incremental runs) or incremental."""
        self._close_abandoned_runs()
        state = self._state()
        if mode == "auto":
            if state is None or state["cursor"] is None or state["full_offset"] is not None:
                mode = "full" if state is None or state["full_mode"] != "reconcile" else "reconcile"
            elif state["runs_since_reconcile"] >= self.reconcile_every:
                mode = "reconcile"
            else:
                mode = "incremental"
        elif mode == "incremental" and (state is None or state["cursor"] is None):
            log.info("%s: no cursor yet, so this run is a full sync", self.practice)
            mode = "full"
        run_id = self._start_run(mode)
        progress = Progress(
            self.practice,
            self.resource.name,
            mode,
            expected_rows=self._expected_rows(mode),
            page_size=self.client.page_size,
            interval=self.client.rate_interval,
        )
        before = self.client.stats.as_dict()
        started = datetime.now()
        summary = RunSummary(run_id, self.practice, mode, "running", progress)
        try:
            if mode == "incremental":
                summary.cursor = self._incremental(run_id, progress)
            else:
                summary.cursor = self._full_pass(run_id, progress, mode)
            summary.outcome = "ok"
        except SyncInterrupted:
            summary.outcome = "interrupted"
        except OpenDentalError as exc:
            summary.outcome, summary.error = "failed", str(exc)
        except SQLAlchemyError as exc:  # the store refused a page (or went away)
            summary.outcome = "failed"
            summary.error = (
                f"The store could not save a page: {describe_db_error(exc)}. Nothing was "
                "lost; the next sync retries from the last saved page."
            )
        except Exception as exc:
            # The text of an unexpected error may quote data: the run log keeps its type only.
            summary.outcome, summary.error = "failed", f"unexpected {type(exc).__name__}"
            self._finish_run(summary, before, started)
            raise
        self._finish_run(summary, before, started)
        return summary

    # -- the two kinds of pass -----------------------------------------------------------------
    def _full_pass(self, run_id: int, progress: Progress, mode: str) -> str | None:
        state = self._state()
        resuming = state is not None and state["full_offset"] is not None
        if resuming and state is not None:
            offset, pass_id, cursor = state["full_offset"], state["full_pass"], state["full_cursor"]
            log.info("%s: resuming the %s pass at row %d", self.practice, mode, offset)
        else:
            offset, pass_id, cursor = 0, run_id, None
            with self.engine.begin() as connection:
                self._save_state(
                    connection, full_offset=0, full_pass=pass_id, full_cursor=None, full_mode=mode
                )
        pages = self.resource.all_pages(self.client, offset, self._page_hook(progress))
        for page in pages:
            server_time = self.resource.server_time(page)
            if cursor is None and server_time is not None:
                cursor = server_time.strftime(API_DATETIME_FORMAT)
            offset += len(page)
            with self.engine.begin() as connection:
                self._upsert(connection, page, progress, seen_pass=pass_id)
                self._save_state(connection, full_offset=offset, full_cursor=cursor)
                self._save_counts(connection, run_id, progress)
            self._report(progress)
            if self.stop.is_set():
                raise SyncInterrupted
        with self.engine.begin() as connection:
            progress.missing = self._mark_missing(connection, pass_id)
            new_cursor = self._back_off(cursor) if cursor else None
            self._save_state(
                connection,
                cursor=new_cursor,
                full_offset=None,
                full_pass=None,
                full_cursor=None,
                full_mode=None,
                runs_since_reconcile=0,
            )
            self._save_counts(connection, run_id, progress)
        with self.engine.begin() as connection:
            # fresh planner statistics after a pass that may have changed many rows
            connection.exec_driver_sql(f"ANALYZE {self.table.name}")
        progress.done = True
        self._report(progress)
        return new_cursor

    def _incremental(self, run_id: int, progress: Progress) -> str | None:
        state = self._state()
        if state is None or state["cursor"] is None:  # pragma: no cover - run() checked
            raise RuntimeError("an incremental run needs a cursor")
        since: str = state["cursor"]
        earliest: datetime | None = None
        for page in self.resource.changed_pages(self.client, since, self._page_hook(progress)):
            server_time = self.resource.server_time(page)
            if server_time is not None and (earliest is None or server_time < earliest):
                earliest = server_time
            with self.engine.begin() as connection:
                self._upsert(connection, page, progress, seen_pass=None)
                self._save_counts(connection, run_id, progress)
            self._report(progress)
            if self.stop.is_set():
                raise SyncInterrupted
        cursor = since
        if earliest is not None:
            cursor = max(since, self._back_off(earliest.strftime(API_DATETIME_FORMAT)))
        with self.engine.begin() as connection:
            self._save_state(
                connection,
                cursor=cursor,
                runs_since_reconcile=(state["runs_since_reconcile"] or 0) + 1,
            )
        progress.done = True
        self._report(progress)
        return cursor

    # -- rows ---------------------------------------------------------------------------------
    def _upsert(
        self,
        connection: Connection,
        page: Sequence[ApiModel],
        progress: Progress,
        seen_pass: int | None,
    ) -> None:
        rows: dict[Any, Row] = {}
        for model in page:
            row = self.resource.to_row(model)
            rows[row[self.resource.key]] = row  # a repeat within a page: keep the last
        progress.pages += 1
        progress.rows += len(page)
        if not rows:
            return
        table, key = self.table, self._key
        existing = {
            found[0]: (found[1], found[2])
            for found in connection.execute(
                select(key, table.c.row_hash, table.c.missing_since).where(
                    table.c.practice == self.practice, key.in_(list(rows))
                )
            )
        }
        now = utcnow()
        writes: list[Row] = []
        for pk, row in rows.items():
            known = existing.get(pk)
            if known is not None and known[0] == row["row_hash"] and known[1] is None:
                continue
            if known is None:
                progress.inserted += 1
            else:
                progress.updated += 1
            writes.append(
                {
                    **row,
                    "practice": self.practice,
                    "first_seen_at": now,
                    "last_synced_at": now,
                    "missing_since": None,
                    "seen_pass": seen_pass,
                }
            )
        if writes:
            statement = self._insert(table)
            changing = {
                c.name: statement.excluded[c.name]
                for c in table.columns
                if c.name not in ("practice", self.resource.key, "first_seen_at")
            }
            if seen_pass is None:
                changing.pop("seen_pass")
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c.practice, key], set_=changing
                ),
                writes,
            )
        if seen_pass is not None:
            connection.execute(
                update(table)
                .where(table.c.practice == self.practice, key.in_(list(rows)))
                .values(seen_pass=seen_pass)
            )

    def _mark_missing(self, connection: Connection, pass_id: int) -> int:
        """Rows the completed pass did not return: set ``missing_since`` (kept, not deleted)."""
        table = self.table
        result = connection.execute(
            update(table)
            .where(
                table.c.practice == self.practice,
                table.c.missing_since.is_(None),
                (table.c.seen_pass.is_(None)) | (table.c.seen_pass != pass_id),
            )
            .values(missing_since=utcnow())
        )
        if result.rowcount:
            log.warning(
                "%s: %d %s no longer returned by the source; marked missing",
                self.practice,
                result.rowcount,
                self.resource.name,
            )
        return int(result.rowcount or 0)

    # -- state, run log -----------------------------------------------------------------------
    def _state(self) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            found = (
                connection.execute(
                    select(sync_state).where(
                        sync_state.c.practice == self.practice,
                        sync_state.c.resource == self.resource.name,
                    )
                )
                .mappings()
                .first()
            )
        return dict(found) if found else None

    def _save_state(self, connection: Connection, **values: Any) -> None:
        values["updated_at"] = utcnow()
        statement = self._insert(sync_state).values(
            practice=self.practice,
            resource=self.resource.name,
            **{"runs_since_reconcile": 0, **values},
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[sync_state.c.practice, sync_state.c.resource], set_=values
            )
        )

    def _back_off(self, server_time: str) -> str:
        moment = datetime.strptime(server_time, API_DATETIME_FORMAT) - self.overlap
        return moment.strftime(API_DATETIME_FORMAT)

    def _expected_rows(self, mode: str) -> int | None:
        if mode == "incremental":
            return None
        with self.engine.connect() as connection:
            count = connection.execute(
                select(func.count()).where(
                    self.table.c.practice == self.practice, self.table.c.missing_since.is_(None)
                )
            ).scalar_one()
        return int(count) or None

    def _start_run(self, mode: str) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                sync_runs.insert().values(
                    practice=self.practice,
                    resource=self.resource.name,
                    mode=mode,
                    started_at=utcnow(),
                    outcome="running",
                    pages=0,
                    rows_received=0,
                    rows_inserted=0,
                    rows_updated=0,
                    rows_missing=0,
                    requests=0,
                    throttled=0,
                    retries=0,
                )
            )
            key = result.inserted_primary_key
            if key is None:  # pragma: no cover
                raise RuntimeError("the run log did not return an id")
            return int(key[0])

    def _save_counts(self, connection: Connection, run_id: int, progress: Progress) -> None:
        connection.execute(
            update(sync_runs)
            .where(sync_runs.c.id == run_id)
            .values(
                pages=progress.pages,
                rows_received=progress.rows,
                rows_inserted=progress.inserted,
                rows_updated=progress.updated,
                rows_missing=progress.missing,
            )
        )

    def _finish_run(self, summary: RunSummary, before: dict[str, Any], started: datetime) -> None:
        after = self.client.stats.as_dict()
        summary.requests = int(after.get("requests", 0) - before.get("requests", 0))
        summary.throttled = int(after.get("throttled", 0) - before.get("throttled", 0))
        summary.retries = int(after.get("retries", 0) - before.get("retries", 0))
        summary.seconds = (datetime.now() - started).total_seconds()
        with self.engine.begin() as connection:
            self._save_counts(connection, summary.run_id, summary.progress)
            connection.execute(
                update(sync_runs)
                .where(sync_runs.c.id == summary.run_id)
                .values(
                    finished_at=utcnow(),
                    requests=summary.requests,
                    throttled=summary.throttled,
                    retries=summary.retries,
                    outcome=summary.outcome,
                    error=summary.error,
                )
            )
        log.info(
            "%s %s %s: %s, %d pages, %d rows (%d new, %d changed, %d missing), "
            "%d requests, %d throttled, %d retries, %.1f s",
            self.practice,
            self.resource.name,
            summary.mode,
            summary.outcome,
            summary.progress.pages,
            summary.progress.rows,
            summary.progress.inserted,
            summary.progress.updated,
            summary.progress.missing,
            summary.requests,
            summary.throttled,
            summary.retries,
            summary.seconds,
        )

    def _close_abandoned_runs(self) -> None:
        """Runs left 'running' by a killed process are marked 'interrupted'."""
        with self.engine.begin() as connection:
            connection.execute(
                update(sync_runs)
                .where(
                    and_(
                        sync_runs.c.practice == self.practice,
                        sync_runs.c.resource == self.resource.name,
                        sync_runs.c.outcome == "running",
                    )
                )
                .values(outcome="interrupted", error="the process stopped during the run")
            )

    def _page_hook(self, progress: Progress) -> Callable[[PageInfo], None]:
        def hook(info: PageInfo) -> None:  # counts come from _upsert; nothing to do per request
            return None

        return hook

    def _report(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)
