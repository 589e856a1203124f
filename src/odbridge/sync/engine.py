"""Full, incremental and reconciling runs of one resource of one practice.

- **Full** (and **reconcile**, the same pass run on a schedule, daily by default): every page
  of the listing, with the Offset drift check (:mod:`odbridge.sync.drift`). Each page's
  upsert and the checkpoint "resume after this page" commit in one transaction, so a crash
  at any instant resumes without losing or duplicating a row. When the pass completes, rows
  it did not list are settled as the resource says (:class:`~odbridge.sync.resources.Deletions`):
  patients are asked for one by one, and stored as they are now (Deleted) or, on a 404,
  marked ``missing_since``. The cursor becomes the first page's server time minus the overlap.
- **Incremental**: only rows changed since the cursor, with the same drift check.
- Every run first retries the rows held in quarantine; a row that fails validation is held
  there (key, field, reason) while the rest of its page lands.
- Trouble at the office (eConnector down, its network) is waited out with long pauses
  (``outage_waits``) before the run gives up; Ctrl-C ends the wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from odbridge.api.client import Client
from odbridge.api.errors import OpenDentalError, ResponseFormatError
from odbridge.api.models import ApiModel
from odbridge.api.paging import RejectedRow
from odbridge.store.db import describe_db_error
from odbridge.store.runlog import RunLog, RunMode, RunOutcome, utcnow
from odbridge.sync.cursor import DEFAULT_OVERLAP, Cursor, check_overlap
from odbridge.sync.drift import OverlapPager, PassPage
from odbridge.sync.quarantine import Quarantine
from odbridge.sync.resources import PATIENTS, Deletions, Resource
from odbridge.sync.rowform import StoreRow
from odbridge.sync.state import (
    DEFAULT_RECONCILE_EVERY,
    PassState,
    StateRepository,
    SyncState,
    choose_mode,
)
from odbridge.sync.writer import RowWriter

__all__ = [
    "DEFAULT_OUTAGE_WAITS",
    "DEFAULT_OVERLAP",
    "DEFAULT_RECONCILE_EVERY",
    "Progress",
    "ResourceSync",
    "RunMode",
    "RunOutcome",
    "RunSummary",
    "SyncInterrupted",
]

log = logging.getLogger("odbridge.sync")

DEFAULT_OUTAGE_WAITS: tuple[float, ...] = (60.0, 120.0, 240.0, 480.0)
"""Pauses before asking again while the office is unreachable (about 15 minutes in all)."""

QUARANTINE_RETRIES_PER_RUN = 25
"""Held rows asked for again (one request each) at the start of every run."""

T = TypeVar("T")


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
    """Rows the source no longer has (404 when asked one by one, or not listed)."""
    confirmed: int = 0
    """Rows not listed any more but still there when asked (patients now Deleted)."""
    quarantined: int = 0
    """Rows that failed validation in this run (held in quarantine)."""
    released: int = 0
    """Held rows that validated in this run (out of quarantine)."""
    drifts: int = 0
    """Times the listing shifted under the pass (rows left it) and the pass stepped back."""
    requests: int = 0
    """Requests this run made so far (throttled ones and retries included)."""
    throttled: int = 0
    retries: int = 0
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

    def counts(self) -> dict[str, int]:
        """The counters as run-log columns."""
        return {
            "pages": self.pages,
            "rows_received": self.rows,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_missing": self.missing,
            "rows_confirmed": self.confirmed,
            "rows_quarantined": self.quarantined,
            "requests": self.requests,
            "throttled": self.throttled,
            "retries": self.retries,
        }


@dataclass
class RunSummary:
    """The outcome of one run, as written to ``sync_runs``."""

    run_id: int
    practice: str
    mode: RunMode
    outcome: RunOutcome
    progress: Progress
    error: str | None = None
    cursor: str | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Requests the run made (throttled ones and retries included)."""
        return self.progress.requests

    @property
    def throttled(self) -> int:
        """Answers 429 the run got."""
        return self.progress.throttled

    @property
    def retries(self) -> int:
        """Requests the run made again."""
        return self.progress.retries


class SyncInterrupted(Exception):  # noqa: N818 - an outcome, not a failure
    """The run stopped early on request (SIGINT/SIGTERM) after committing its last page."""


class ResourceSync:
    """Syncs one resource of one practice from a :class:`Client` into the store."""

    def __init__(
        self,
        store: Engine,
        client: Client,
        practice: str,
        *,
        resource: Resource = PATIENTS,
        overlap: timedelta = DEFAULT_OVERLAP,
        reconcile_every: timedelta = DEFAULT_RECONCILE_EVERY,
        on_progress: Callable[[Progress], None] | None = None,
        stop: threading.Event | None = None,
        outage_waits: Sequence[float] = DEFAULT_OUTAGE_WAITS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.client = client
        self.practice = practice
        self.resource = resource
        self.overlap = check_overlap(overlap)
        self.reconcile_every = reconcile_every
        self.on_progress = on_progress
        self.stop = stop or threading.Event()
        self.outage_waits = tuple(outage_waits)
        self.clock = clock
        self.states = StateRepository(store)
        self.runlog = RunLog(store, practice, resource.name, clock=clock)
        self.writer = RowWriter(store, practice, resource)
        self._client_before: dict[str, Any] = {}  # the client's stats when the run began
        self.quarantine = Quarantine(store, practice, resource.name)

    # -- public -------------------------------------------------------------------------------
    def run(self, mode: RunMode | str = RunMode.AUTO) -> RunSummary:
        """Run once; ``auto`` finishes an unfinished pass, else picks full (first time),
        reconcile (when the last completed pass is ``reconcile_every`` old) or incremental."""
        self.runlog.close_abandoned()
        state = self.states.load(self.practice, self.resource.name)
        chosen = choose_mode(
            RunMode(mode),
            state,
            last_pass=self.runlog.last_completed_pass(),
            now=self.clock(),
            reconcile_every=self.reconcile_every,
            incremental=self.resource.incremental,
        )
        if chosen != mode and mode == RunMode.INCREMENTAL:
            log.info("%s: no cursor yet, so this run is a full sync", self.practice)
        run_id = self.runlog.start(chosen)
        progress = Progress(
            self.practice,
            self.resource.name,
            str(chosen),
            expected_rows=self._expected_rows(chosen),
            page_size=self.client.page_size,
            interval=self.client.rate_interval,
        )
        self._client_before = self.client.stats.as_dict()
        started = datetime.now()
        summary = RunSummary(run_id, self.practice, chosen, RunOutcome.RUNNING, progress)
        try:
            self._retry_quarantined(run_id, progress)
            if chosen == RunMode.INCREMENTAL:
                summary.cursor = self._incremental(state, run_id, progress)
            else:
                summary.cursor = self._full_pass(state, run_id, progress, chosen)
            summary.outcome = RunOutcome.OK
        except SyncInterrupted:
            summary.outcome = RunOutcome.INTERRUPTED
        except OpenDentalError as exc:
            summary.outcome, summary.error = RunOutcome.FAILED, str(exc)
        except SQLAlchemyError as exc:  # the store refused a page (or went away)
            summary.outcome = RunOutcome.FAILED
            summary.error = (
                f"The store could not save a page: {describe_db_error(exc)}. Nothing was "
                "lost; the next sync retries from the last saved page."
            )
        except Exception as exc:
            # The text of an unexpected error may quote data: the run log keeps its type only.
            summary.outcome, summary.error = RunOutcome.FAILED, f"unexpected {type(exc).__name__}"
            self._finish_run(summary, started)
            raise
        self._finish_run(summary, started)
        return summary

    # -- the two kinds of pass -----------------------------------------------------------------
    def _full_pass(
        self, state: SyncState, run_id: int, progress: Progress, mode: RunMode
    ) -> str | None:
        current = state.unfinished
        if current is not None:
            log.info("%s: resuming the %s pass at row %d", self.practice, mode, current.offset)
        else:
            current = PassState(run_id=run_id, mode=mode)
            state = state.with_pass(current)
        with self.store.begin() as connection:
            # the write comes first: on SQLite it takes the store's write lock, so no other
            # sync writes between the look at the table and the indexes' drop
            self.states.save(connection, state)
            if self.writer.defer_indexes(connection):
                log.info(
                    "%s: first load of %s: its indexes are built once, at the end",
                    self.practice,
                    self.resource.name,
                )
        pager: OverlapPager[StoreRow] = OverlapPager(
            lambda offset, limit: self._patiently(
                lambda: self.resource.fetch_page(self.client, offset, limit)
            ),
            self.resource.key_of,
            limit=max(2, self.client.page_size),  # the overlap needs two rows a page
            offset=current.offset,
            last_key=current.last_key,
            ordered=self.resource.ordered_by_key,
        )
        for page in pager:
            first_time = current.first_page_time
            if first_time is None and page.server_time is not None:
                first_time = Cursor(page.server_time, self.overlap).text
            current = PassState(
                current.run_id, current.mode, page.offset, page.last_key, first_time
            )
            state = state.with_pass(current)
            with self.store.begin() as connection:
                self._land(connection, page, progress, seen_pass=current.run_id)
                self.states.save(connection, state)
                self._save_counts(connection, run_id, progress)
            progress.drifts = pager.drifts
            self._report(progress)
            if self.stop.is_set():
                raise SyncInterrupted
        self._settle_unlisted(current.run_id, run_id, progress)
        first = Cursor.parse(current.first_page_time, self.overlap).value
        cursor = Cursor.parse(state.cursor, self.overlap).after_pass(first)
        done = SyncState(self.practice, self.resource.name, cursor.text, None, 0)
        with self.store.begin() as connection:
            self.states.save(connection, done)
            self._save_counts(connection, run_id, progress)
            # a first load's indexes (defer_indexes), built with the pass's end, so a pass is
            # never done without them; after the writes above, which on SQLite hold the
            # store's write lock: two syncs ending at once do not both build one
            self.writer.restore_indexes(connection)
        with self.store.begin() as connection:
            # fresh planner statistics after a pass that may have changed many rows
            connection.exec_driver_sql(f"ANALYZE {self.resource.table.name}")
        progress.done = True
        self._report(progress)
        return cursor.text

    def _incremental(self, state: SyncState, run_id: int, progress: Progress) -> str | None:
        fetch_changed = self.resource.fetch_changed
        since = state.cursor
        if fetch_changed is None or since is None:  # pragma: no cover - choose_mode checked
            raise RuntimeError("an incremental run needs a change filter and a cursor")
        pager: OverlapPager[StoreRow] = OverlapPager(
            lambda offset, limit: self._patiently(
                lambda: fetch_changed(self.client, since, offset, limit)
            ),
            self.resource.key_of,
            limit=max(2, self.client.page_size),  # the overlap needs two rows a page
            ordered=self.resource.ordered_by_key,
        )
        first: datetime | None = None
        for page in pager:
            if first is None:
                first = page.server_time
            with self.store.begin() as connection:
                self._land(connection, page, progress, seen_pass=None)
                self._save_counts(connection, run_id, progress)
            progress.drifts = pager.drifts
            self._report(progress)
            if self.stop.is_set():
                raise SyncInterrupted
        cursor = Cursor.parse(since, self.overlap).after_pass(first)
        done = SyncState(
            self.practice,
            self.resource.name,
            cursor.text,
            None,
            state.runs_since_reconcile + 1,
        )
        with self.store.begin() as connection:
            self.states.save(connection, done)
        progress.done = True
        self._report(progress)
        return cursor.text

    # -- rows -----------------------------------------------------------------------------------
    def _land(
        self,
        connection: Connection,
        page: PassPage[StoreRow],
        progress: Progress,
        *,
        seen_pass: int | None,
    ) -> None:
        """Write a page's good rows, hold its bad ones; inside the page's transaction."""
        now = self.clock()
        written = self.writer.upsert(connection, page.items, now, seen_pass=seen_pass)
        progress.pages += 1
        progress.rows += len(page.items) + len(page.rejected)
        progress.inserted += written.inserted
        progress.updated += written.updated
        good = list(map(self.resource.key_of, page.items))
        self.quarantine.release(connection, good)
        if page.rejected:
            progress.quarantined += len(page.rejected)
            self.quarantine.hold(connection, page.rejected, now)
            held = [r.key for r in page.rejected if r.key is not None]
            if seen_pass is not None:
                self.writer.mark_seen(connection, held, seen_pass)  # listed: not deleted

    def _settle_unlisted(self, pass_id: int, run_id: int, progress: Progress) -> None:
        """Rows the completed pass did not list: as the resource's deletion rule says."""
        rule = self.resource.deletions
        if rule is Deletions.IGNORE:
            return
        with self.store.connect() as connection:
            keys = self.writer.unlisted(connection, pass_id)
        if not keys:
            return
        log.info(
            "%s: %d %s not listed by this pass; %s",
            self.practice,
            len(keys),
            self.resource.name,
            "asking for each" if rule is Deletions.CONFIRM else "marking them missing",
        )
        if rule is Deletions.MARK_MISSING:
            with self.store.begin() as connection:
                progress.missing += self.writer.mark_missing(connection, keys, self.clock())
                self._save_counts(connection, run_id, progress)
            return
        fetch_one = self.resource.fetch_one
        if fetch_one is None:  # pragma: no cover - Resource checks it
            raise RuntimeError("confirming deletions needs fetch_one")
        for key in keys:
            if self.stop.is_set():
                raise SyncInterrupted
            self._confirm(key, fetch_one, pass_id, run_id, progress)
        if progress.missing or progress.confirmed:
            log.warning(
                "%s: %d %s no longer listed: %d still there (stored as they are now, e.g. "
                "Deleted), %d gone (marked missing)",
                self.practice,
                progress.missing + progress.confirmed,
                self.resource.name,
                progress.confirmed,
                progress.missing,
            )

    def _confirm(
        self,
        key: int,
        fetch_one: Callable[[Client, int], ApiModel | None],
        pass_id: int,
        run_id: int,
        progress: Progress,
    ) -> None:
        now = self.clock()
        try:
            model = self._patiently(lambda: fetch_one(self.client, key))
        except ResponseFormatError as exc:
            with self.store.begin() as connection:
                rejected = RejectedRow(-1, key, exc.field, exc.problem)
                progress.quarantined += self.quarantine.hold(connection, [rejected], now)
                self.writer.mark_seen(connection, [key], pass_id)  # there: not deleted
                self._save_counts(connection, run_id, progress)
            return
        with self.store.begin() as connection:
            if model is None:
                progress.missing += self.writer.mark_missing(connection, [key], now)
                self.quarantine.release(connection, [key])
            else:
                written = self.writer.upsert(
                    connection, [self.resource.form.from_model(model)], now, seen_pass=pass_id
                )
                progress.updated += written.updated
                progress.confirmed += 1
            self._save_counts(connection, run_id, progress)
        self._report(progress)

    def _retry_quarantined(self, run_id: int, progress: Progress) -> None:
        """Ask again for rows held in quarantine; release those that now validate."""
        fetch_one = self.resource.fetch_one
        if fetch_one is None:
            return  # retried when they are listed again
        for key in self.quarantine.keys(QUARANTINE_RETRIES_PER_RUN):
            if self.stop.is_set():
                raise SyncInterrupted
            now = self.clock()
            try:
                model = self._patiently(lambda key=key: fetch_one(self.client, key))  # type: ignore[misc]
            except ResponseFormatError:
                with self.store.begin() as connection:
                    self.quarantine.touch(connection, key, now)
                continue
            with self.store.begin() as connection:
                if model is not None:
                    row = self.resource.form.from_model(model)
                    written = self.writer.upsert(connection, [row], now, seen_pass=None)
                    progress.inserted += written.inserted
                    progress.updated += written.updated
                self.quarantine.release(connection, [key])
                progress.released += 1
                self._save_counts(connection, run_id, progress)
        if progress.released:
            log.info("%s: %d rows left quarantine", self.practice, progress.released)

    # -- waiting out the office -----------------------------------------------------------------
    def _patiently(self, call: Callable[[], T]) -> T:
        """``call()``, waiting out trouble at the office (eConnector, network) with long
        pauses; the last error is raised when it lasts longer than ``outage_waits``."""
        waits = iter(self.outage_waits)
        while True:
            try:
                return call()
            except OpenDentalError as exc:
                if not exc.office_outage:
                    raise
                wait = next(waits, None)
                if wait is None:
                    raise
                log.warning(
                    "%s: %s Waiting %.0f s before asking again (Ctrl-C stops). %s",
                    self.practice,
                    exc.summary,
                    wait,
                    exc.hint,
                )
                if self.stop.wait(wait):
                    raise SyncInterrupted from None

    # -- bookkeeping ----------------------------------------------------------------------------
    def _expected_rows(self, mode: RunMode) -> int | None:
        if mode == RunMode.INCREMENTAL:
            return None
        table = self.resource.table
        with self.store.connect() as connection:
            count = connection.execute(
                select(func.count()).where(
                    table.c.practice == self.practice, table.c.missing_since.is_(None)
                )
            ).scalar_one()
        return int(count) or None

    def _client_work(self, progress: Progress) -> None:
        """The client's requests, 429s and retries since the run started, into progress."""
        after, before = self.client.stats.as_dict(), self._client_before
        progress.requests = int(after.get("requests", 0) - before.get("requests", 0))
        progress.throttled = int(after.get("throttled", 0) - before.get("throttled", 0))
        progress.retries = int(after.get("retries", 0) - before.get("retries", 0))

    def _save_counts(self, connection: Connection, run_id: int, progress: Progress) -> None:
        """The run's counters so far, with the caller's page: a killed run's log says what
        it did, requests included."""
        self._client_work(progress)
        self.runlog.save_counts(connection, run_id, progress.counts())

    def _finish_run(self, summary: RunSummary, started: datetime) -> None:
        p = summary.progress
        self._client_work(p)
        summary.seconds = (datetime.now() - started).total_seconds()
        self.runlog.finish(summary.run_id, summary.outcome, counts=p.counts(), error=summary.error)
        log.info(
            "%s %s %s: %s, %d pages, %d rows (%d new, %d changed, %d gone, %d confirmed, "
            "%d quarantined), %d requests, %d throttled, %d retries, %.1f s",
            self.practice,
            self.resource.name,
            summary.mode,
            summary.outcome,
            p.pages,
            p.rows,
            p.inserted,
            p.updated,
            p.missing,
            p.confirmed,
            p.quarantined,
            summary.requests,
            summary.throttled,
            summary.retries,
            summary.seconds,
        )

    def _report(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)
