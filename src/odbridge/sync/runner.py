"""Run syncs: one practice, several concurrently, or on a schedule until told to stop."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine

from odbridge.api.client import Client
from odbridge.config import PracticeProfile
from odbridge.store.runlog import RunOutcome
from odbridge.sync.engine import (
    DEFAULT_OVERLAP,
    DEFAULT_RECONCILE_EVERY,
    Progress,
    ResourceSync,
    RunMode,
    RunSummary,
)
from odbridge.sync.lock import PracticeBusy, practice_lock
from odbridge.sync.visits import VisitOptions, sync_visits

log = logging.getLogger("odbridge.sync")

ProgressCallback = Callable[[Progress], None]


def sync_practice(
    store: Engine,
    profile: PracticeProfile,
    *,
    mode: RunMode | str = RunMode.AUTO,
    stop: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    reconcile_every: timedelta = DEFAULT_RECONCILE_EVERY,
    wait: bool = False,
) -> RunSummary:
    """One run for one practice, with its own client (and so its own key's pacing).

    Only one sync of a practice runs at a time (:func:`~odbridge.sync.lock.practice_lock`):
    when another process holds it this raises :class:`~odbridge.sync.lock.PracticeBusy`,
    or with ``wait`` waits for it.
    """
    return sync_practice_and_visits(
        store,
        profile,
        mode=mode,
        stop=stop,
        on_progress=on_progress,
        overlap=overlap,
        reconcile_every=reconcile_every,
        wait=wait,
    )[0]


def sync_practice_and_visits(
    store: Engine,
    profile: PracticeProfile,
    *,
    visits: VisitOptions | None = None,
    mode: RunMode | str = RunMode.AUTO,
    stop: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    reconcile_every: timedelta = DEFAULT_RECONCILE_EVERY,
    wait: bool = False,
    before_visits: Callable[[Client], None] | None = None,
) -> list[RunSummary]:
    """The patients, then (with ``visits``) every visit resource, holding the practice's
    sync lock once for the whole job: no other sync can slip in between the two passes.
    The visits are skipped when the patients' run does not end ok (the next job resumes).

    ``mode``, ``overlap``, ``reconcile_every`` and ``on_progress`` are the patients' run's;
    ``before_visits`` is called (lock held) with the client just before the visits start.
    """
    with (
        practice_lock(store, profile.name, wait=wait, stop=stop),
        Client(profile=profile) as client,
    ):
        patients = ResourceSync(
            store,
            client,
            profile.name,
            overlap=overlap,
            reconcile_every=reconcile_every,
            on_progress=on_progress,
            stop=stop,
        ).run(mode)
        if visits is None or patients.outcome != RunOutcome.OK:
            return [patients]
        if before_visits is not None:
            before_visits(client)
        return [patients, *sync_visits(store, client, profile.name, options=visits, stop=stop)]


def sync_practices(
    store: Engine,
    profiles: Sequence[PracticeProfile],
    *,
    on_busy: Callable[[PracticeBusy], None] | None = None,
    **options: object,
) -> list[RunSummary]:
    """Sync several practices at once (:func:`sync_practice_and_visits` each, taking the
    same ``options``); each is paced by its own key, so N practices take about as long as
    the largest one. The summaries, practice by practice (patients, then any visits).

    A practice another process is syncing is skipped and handed to ``on_busy`` (without
    it, :class:`~odbridge.sync.lock.PracticeBusy` is raised once the others are done).
    """

    def one(profile: PracticeProfile) -> list[RunSummary] | PracticeBusy:
        try:
            return sync_practice_and_visits(store, profile, **options)  # type: ignore[arg-type]
        except PracticeBusy as busy:
            return busy

    if len(profiles) == 1:
        results = [one(profiles[0])]
    else:
        with ThreadPoolExecutor(max_workers=len(profiles), thread_name_prefix="sync") as pool:
            results = list(pool.map(one, profiles))
    summaries = [s for r in results if not isinstance(r, PracticeBusy) for s in r]
    for busy in (r for r in results if isinstance(r, PracticeBusy)):
        if on_busy is None:
            raise busy
        on_busy(busy)
    return summaries


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> timedelta:
    """``"15m"`` → 15 minutes; units s, m, h, d (seconds when none). ValueError if unreadable."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration such as 30s, 15m, 1h or 1d")
    amount, unit = float(match.group(1)), match.group(2) or "s"
    seconds = amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0:
        raise ValueError("the duration must be more than zero")
    return timedelta(seconds=seconds)


def run_every(
    every: timedelta,
    job: Callable[[], object],
    stop: threading.Event,
) -> int:
    """Run ``job`` now and then every ``every`` (start to start) until ``stop`` is set.

    Returns the number of runs. A failing run is logged and the schedule goes on.
    """
    runs = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            job()
        except Exception as exc:  # keep the schedule alive; the run log has the details
            log.error("scheduled sync failed: %s", exc)
        runs += 1
        pause = max(0.0, started + every.total_seconds() - time.monotonic())
        if not stop.is_set():
            log.info("next sync in %.0f s", pause)
        if stop.wait(pause):
            break
    return runs
