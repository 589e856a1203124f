"""The Procrastinate app on the store's PostgreSQL database: the sync task, the schedule
(a periodic task that queues every practice) and the re-queueing of stalled jobs."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.exceptions import AlreadyEnqueued, JobAborted
from sqlalchemy import Engine

from odbridge.config import load_settings, resolve_profile
from odbridge.errors import OdbridgeError
from odbridge.queue.migrations import QueueError, conninfo, ensure_queue_schema
from odbridge.store.db import create_store_engine
from odbridge.store.runlog import RunOutcome
from odbridge.sync.runner import sync_practice_and_visits
from odbridge.sync.visits import DEFAULT_HISTORY_YEARS, VisitOptions

__all__ = [
    "QUEUE",
    "SCHEDULE_TASK",
    "TASK",
    "JobOptions",
    "QueueError",
    "Schedule",
    "SyncJobError",
    "defer_syncs",
    "make_app",
    "run_worker",
]

log = logging.getLogger("odbridge.queue")

QUEUE = "sync"
MAINTENANCE_QUEUE = "odbridge-maintenance"
TASK = "odbridge.sync_practice"
SCHEDULE_TASK = "odbridge.queue_syncs"
STALLED_AFTER = 30.0
"""Seconds without a worker's heartbeat (sent every 10 s) before its running jobs are retried."""
HEARTBEAT = 10.0
"""Procrastinate's interval between a worker's heartbeats (its default, set explicitly)."""
STALLED_FLOOR = 2 * HEARTBEAT
"""The once-a-minute check and the pruning of silent workers never take a worker for dead
sooner: a shorter ``--stalled-after`` (0 in tests) applies to the check at start only, or
a worker would send its own running jobs back to the queue."""
RETRY = procrastinate.RetryStrategy(max_attempts=6, exponential_wait=4)
"""A failed or busy sync is tried again after 4, 16, 64, 256 and 1024 seconds."""


class SyncJobError(OdbridgeError):
    """A queued sync ended 'failed'; the job is retried with backoff."""


class StopOnAbort:
    """The stop event of a job's sync, set when Procrastinate asks the job to stop: the
    worker is shutting down (SIGTERM, Ctrl-C), or the job was aborted. A synchronous job
    can only learn that by asking its context, so a watcher thread asks a few times a
    second while the job runs; the sync then stops after its current page."""

    POLL = 0.2
    """Seconds between two looks (a page takes longer at any tier's pace)."""

    def __init__(self, context: JobContext) -> None:
        self.event = threading.Event()
        self._context = context
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="odbridge-job-abort", daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(self.POLL):
            if self._context.should_abort():
                self.event.set()
                return

    def __enter__(self) -> threading.Event:
        self._watcher.start()
        return self.event

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._watcher.join()


class OneLineJobErrors(logging.Filter):
    """Procrastinate logs a failed job with its traceback. A job that failed for a reason
    odbridge already put in words (the practice busy, not in this machine's config, its
    sync failed, stopped with the worker) gets that sentence on the same line instead;
    other errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OdbridgeError | JobAborted):
            reason = " ".join(str(exc).split())
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {reason}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_filter() -> None:
    """:class:`OneLineJobErrors` on Procrastinate's worker log (once)."""
    worker_log = logging.getLogger("procrastinate.worker")
    if not any(isinstance(f, OneLineJobErrors) for f in worker_log.filters):
        worker_log.addFilter(OneLineJobErrors())


@dataclass(frozen=True)
class JobOptions:
    """What a sync job reads besides the patients."""

    visits: bool = False
    history_years: int = DEFAULT_HISTORY_YEARS

    def as_kwargs(self) -> dict[str, Any]:
        """The job's arguments besides the practice (JSON, stored with the job)."""
        return {"visits": self.visits, "history_years": self.history_years}


@dataclass(frozen=True)
class Schedule:
    """``odbridge worker --every``: at each tick of ``cron`` one job per practice of the
    worker's config is queued (a practice still queued is not queued twice)."""

    cron: str
    options: JobOptions = JobOptions()

    @property
    def periodic_id(self) -> str:
        """Same schedule on every worker = same id, so the database defers each tick once."""
        visits = " +visits" if self.options.visits else ""
        return f"sync every {self.cron}{visits}"


def make_app(
    url: str, schedule: Schedule | None = None, *, stalled_after: float = STALLED_AFTER
) -> procrastinate.App:
    """A Procrastinate app on the store at ``url`` with the ``sync_practice`` task, whose
    jobs sync into that same store, and with ``schedule`` a periodic task that queues them.
    Once a minute, jobs of workers silent for ``stalled_after`` seconds (at least
    :data:`STALLED_FLOOR`) go back to the queue."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(url)),
    )
    engines: list[Engine] = []
    guard = threading.Lock()

    def store() -> Engine:
        """One engine (one pool) for all the jobs this worker runs at once."""
        with guard:
            if not engines:
                engines.append(create_store_engine(url))
            return engines[0]

    @app.task(name=TASK, queue=QUEUE, retry=RETRY, pass_context=True)
    def sync_practice_job(
        context: JobContext,
        practice: str,
        visits: bool = False,
        history_years: int = DEFAULT_HISTORY_YEARS,
    ) -> None:
        profile = resolve_profile(practice)
        profile.require_keys()
        with StopOnAbort(context) as stop:
            summaries = sync_practice_and_visits(
                store(),
                profile,
                visits=VisitOptions(history_years=history_years) if visits else None,
                stop=stop,
            )
        if any(s.outcome == RunOutcome.INTERRUPTED for s in summaries):
            # the worker is stopping: the sync stopped after its last saved page, and
            # Procrastinate retries a job aborted by a shutdown (it resumes from there)
            raise JobAborted(f"practice '{practice}': stopped with the worker; queued again")
        rows = sum(s.progress.rows for s in summaries)
        outcomes = ", ".join(f"{s.progress.resource} {s.outcome}" for s in summaries)
        log.info("practice '%s': %s; %d rows", practice, outcomes, rows)
        failed = [s for s in summaries if s.outcome == "failed"]
        if failed:
            raise SyncJobError(f"practice '{practice}': {failed[0].error}")

    if schedule is not None:

        @app.periodic(cron=schedule.cron, periodic_id=schedule.periodic_id)
        @app.task(name=SCHEDULE_TASK, queue=MAINTENANCE_QUEUE, pass_context=False)
        async def queue_syncs_job(timestamp: int) -> None:
            practices = sorted(load_settings().practices)
            done = [await _defer(app, p, schedule.options) for p in practices]
            log.info(
                "schedule %s: %d practices queued, %d already queued",
                schedule.cron,
                sum(d.job_id is not None for d in done),
                sum(d.job_id is None for d in done),
            )

    @app.periodic(cron="* * * * *", periodic_id="requeue-stalled")
    @app.task(name="odbridge.requeue_stalled", queue=MAINTENANCE_QUEUE, pass_context=False)
    async def requeue_stalled_job(timestamp: int) -> None:
        await requeue_stalled(app, max(stalled_after, STALLED_FLOOR))

    return app


async def requeue_stalled(app: procrastinate.App, after_seconds: float) -> int:
    """Sync jobs left running by a worker that stopped sending heartbeats (killed, machine
    lost) go back to the queue; their syncs resume from the checkpoint. How many."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=after_seconds)
    )
    for job in stalled:
        log.warning("sync job %s of a stopped worker goes back to the queue", job.id)
        await app.job_manager.retry_job(job)
    return len(stalled)


@dataclass(frozen=True)
class Deferred:
    """What ``defer_syncs`` did for one practice."""

    practice: str
    job_id: int | None
    """None: the practice was already queued (its queueing lock refused a second job)."""


def prepare_store(url: str) -> None:
    """Create (or upgrade) the store's own tables now, once, rather than in the first jobs
    of several workers at the same moment (they would race to create them)."""
    create_store_engine(url).dispose()


async def _defer(app: procrastinate.App, practice: str, options: JobOptions) -> Deferred:
    task: Any = app.tasks[TASK]
    try:
        job_id = await task.configure(queueing_lock=practice, lock=practice).defer_async(
            practice=practice, **options.as_kwargs()
        )
    except AlreadyEnqueued:
        job_id = None
    return Deferred(practice, job_id)


def defer_syncs(
    url: str, practices: list[str], options: JobOptions | None = None
) -> list[Deferred]:
    """Queue one sync job per practice; a practice already waiting is not queued twice."""
    ensure_queue_schema(url, then=lambda: prepare_store(url))
    app = make_app(url)

    async def defer_all() -> list[Deferred]:
        async with app.open_async():
            return [await _defer(app, p, options or JobOptions()) for p in practices]

    return asyncio.run(defer_all())


def run_worker(
    url: str,
    *,
    concurrency: int = 1,
    until_empty: bool = False,
    stalled_after: float = STALLED_AFTER,
    schedule: Schedule | None = None,
) -> None:
    """Run a worker on the sync queue until stopped (SIGINT/SIGTERM), or with
    ``until_empty`` until no job is left. First, jobs of workers silent for
    ``stalled_after`` seconds go back to the queue (then every minute, periodically).
    With ``schedule`` the worker also queues every practice at each of its ticks."""
    ensure_queue_schema(url, then=lambda: prepare_store(url))
    install_log_filter()
    app = make_app(url, schedule, stalled_after=stalled_after)

    async def work() -> None:
        async with app.open_async():
            await requeue_stalled(app, stalled_after)
            await app.run_worker_async(**worker_options(concurrency, until_empty, stalled_after))

    asyncio.run(work())


def worker_options(concurrency: int, until_empty: bool, stalled_after: float) -> dict[str, Any]:
    """Procrastinate's worker settings. Its start prunes the workers silent for
    ``stalled_worker_timeout`` (their running jobs then count as stalled at once), so that
    is ``stalled_after`` too, or a worker silent for 30 s would lose its jobs to the next
    worker started, whatever ``--stalled-after`` says."""
    return {
        "queues": [QUEUE, MAINTENANCE_QUEUE],
        "concurrency": concurrency,
        "wait": not until_empty,
        "update_heartbeat_interval": HEARTBEAT,
        # SIGTERM / Ctrl-C: running jobs are asked to stop at once (StopOnAbort); each sync
        # ends after its current page and its job is queued again, resuming from there
        "shutdown_graceful_timeout": 0.0,
        "stalled_worker_timeout": max(stalled_after, STALLED_FLOOR),
    }
