"""Fault soak: several practices synced again and again while everything goes wrong.

Three simulated practices, each with every fault kind switched on at once (eConnector down,
500, 504 after a short timeout, slow answers, connections reset, bodies cut short, bodies
that are not JSON); one of them also throttles with 429 (``throttle="reject"``) while its
client is configured to go faster than the server allows, so it is refused and must slow
down. Between and during the runs the patients keep changing underneath: edits, merges,
deletions, new family members and purges; some runs are stopped half-way, as Ctrl-C does.
The practices sync concurrently (one thread each, as ``sync --all``) into one store.

At the end the faults are switched off, any unfinished pass is completed, and one last
reconciling sync runs per practice: then every practice in the store must equal its source
field by field. The figures (syncs by outcome, faults injected by kind, 429s, rows compared,
mismatches) are printed.

Short by default (a few rounds, for the normal suite, SQLite and PostgreSQL); set
``ODBRIDGE_SOAK_ROUNDS`` to run it for longer by hand, e.g. ``ODBRIDGE_SOAK_ROUNDS=200
.venv/bin/pytest tests/soak -s``.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from odbridge.api.client import Client
from odbridge.api.pacing import reset_pacers
from odbridge.api.retry import RetryPolicy
from odbridge.simulator.server import SimulatorServer
from odbridge.store.schema import patients, sync_state
from odbridge.sync.engine import Progress, ResourceSync, RunMode, RunSummary
from tests.helpers import CUST_KEY, DEV_KEY, SimulatorFactory, source_rows, store_rows

pytestmark = [pytest.mark.soak, pytest.mark.integration]

ROUNDS = int(os.environ.get("ODBRIDGE_SOAK_ROUNDS", "10"))
PAGE_SIZE = 50

FAULTS: dict[str, float] = {
    "econnector": 0.03,  # permanent for the run: it fails, the next one resumes
    "error500": 0.07,
    "timeout": 0.04,
    "slow": 0.06,
    "reset": 0.06,
    "truncated": 0.06,
    "malformed": 0.06,
    "slow_seconds": 0.05,
    "timeout_seconds": 0.2,
}
"""Together a fault on 38% of requests."""

RECONCILE_EVERY = timedelta(seconds=1)
"""Reconcile whenever the last completed pass is a second old: often, in a soak."""
OUTAGE_WAITS = (0.01, 0.02)
"""Office outages (eConnector faults) waited out briefly, not for minutes."""

SOAK_RETRY = RetryPolicy(
    max_attempts=8, initial=0.01, max_wait=0.05, jitter=0.01, max_retry_after=0.25
)
"""Fast retries (the defaults wait up to 30 s); a 429's Retry-After (1 s) is capped at 0.25 s."""


@dataclass(frozen=True)
class Practice:
    """One simulated practice and how its client is set up."""

    name: str
    patients: int
    seed: int
    server_interval: float = 0.0
    client_interval: float = 0.0


PRACTICES = (
    Practice("north", patients=400, seed=31),
    Practice("south", patients=300, seed=32),
    # The server allows one request per 50 ms; the client asks for 30 ms: 429s, then it adapts.
    Practice("east", patients=250, seed=33, server_interval=0.05, client_interval=0.03),
)


@dataclass
class Tally:
    """What the soak did, for the figures."""

    outcomes: Counter[str] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    client_throttled: int = 0
    retries: int = 0
    false_missing: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, summary: RunSummary) -> None:
        with self.lock:
            self.outcomes[summary.outcome] += 1
            self.modes[summary.mode] += 1
            self.client_throttled += summary.throttled
            self.retries += summary.retries


class Source:
    """A practice's simulator and the events staged on it (a purged patient is gone)."""

    def __init__(self, practice: Practice, sim: SimulatorServer, rng: random.Random) -> None:
        self.practice = practice
        self.sim = sim
        self.rng = rng
        self.alive = set(range(1, practice.patients + 1))
        self.lock = threading.Lock()

    def stir(self, tally: Tally) -> None:
        """Front-desk edits and, now and then, a practice event."""
        with self.lock:
            self.sim.change(self.rng.randint(0, 12))
            kind = self.rng.choice(["none", "merge", "delete", "family-member", "purge"])
            if kind == "none" or len(self.alive) < 10:
                return
            chosen = self.rng.sample(sorted(self.alive), 2)
            if kind == "merge":
                self.sim.event("merge", {"from": chosen[0], "into": chosen[1]})
            elif kind == "delete":
                self.sim.event("delete", {"PatNum": chosen[0]})
            elif kind == "family-member":
                child = self.sim.event("family-member", {"Guarantor": chosen[0]})
                self.alive.add(int(child["PatNum"]))
            else:
                self.sim.event("purge", {"PatNum": chosen[0]})
                self.alive.discard(chosen[0])
        with tally.lock:
            tally.events[kind] += 1


def _client(practice: Practice, sim: SimulatorServer) -> Client:
    return Client(
        DEV_KEY,
        CUST_KEY,
        base_url=sim.base_url,
        mode="remote",
        tier="full",
        rate_interval=practice.client_interval,
        page_size=PAGE_SIZE,
        timeout=5,
        retry=SOAK_RETRY,
        trust_env=False,
    )


def _meddler(source: Source, tally: Tally, stop: threading.Event) -> Callable[[Progress], None]:
    """A progress hook that changes data under a running sync and sometimes stops it."""
    change_at = source.rng.randint(1, 6)
    stop_at = source.rng.randint(2, 7) if source.rng.random() < 0.2 else None

    def hook(progress: Progress) -> None:
        if progress.pages == change_at:
            source.stir(tally)
        if stop_at is not None and progress.pages == stop_at:
            stop.set()  # what the first Ctrl-C does: finish this page, then stop

    return hook


def _sync_once(engine: Engine, source: Source, mode: RunMode, tally: Tally) -> RunSummary:
    stop = threading.Event()
    with _client(source.practice, source.sim) as client:
        sync = ResourceSync(
            engine,
            client,
            source.practice.name,
            reconcile_every=RECONCILE_EVERY,
            on_progress=_meddler(source, tally, stop),
            stop=stop,
            outage_waits=OUTAGE_WAITS,
        )
        summary = sync.run(mode)
    tally.add(summary)
    return summary


def _unfinished_pass(engine: Engine, practice: str) -> bool:
    with engine.connect() as connection:
        offset = connection.execute(
            select(sync_state.c.full_offset).where(sync_state.c.practice == practice)
        ).scalar_one_or_none()
    return offset is not None


def _false_missing(engine: Engine, source: Source) -> int:
    """Rows the store marks missing although the source still has them."""
    with engine.connect() as connection:
        missing = set(
            connection.execute(
                select(patients.c.pat_num).where(
                    patients.c.practice == source.practice.name,
                    patients.c.missing_since.is_not(None),
                )
            ).scalars()
        )
    return len(missing & source.alive)


def _mismatches(engine: Engine, source: Source) -> tuple[int, int]:
    """(rows compared, rows that differ or exist on one side only)."""
    expected = source_rows(source.sim)
    actual = store_rows(engine, source.practice.name)
    differing = {key for key in expected.keys() & actual.keys() if expected[key] != actual[key]}
    one_sided = expected.keys() ^ actual.keys()
    return len(expected), len(differing) + len(one_sided)


def test_several_practices_under_every_fault_converge_exactly(
    simulator_factory: SimulatorFactory, store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(20261125)
    sources = []
    for practice in PRACTICES:
        sim = simulator_factory(
            patients=practice.patients,
            seed=practice.seed,
            rate_interval=practice.server_interval,
            throttle="reject",
        )
        sim.set_faults({**FAULTS, "seed": practice.seed})
        sources.append(Source(practice, sim, random.Random(rng.random())))
    tally = Tally()

    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="soak") as pool:
        for round_number in range(ROUNDS):
            reset_pacers()  # each round is a fresh process: the throttled client learns again
            modes = [
                RunMode.FULL if round_number and rng.random() < 0.15 else RunMode.AUTO
                for _ in sources
            ]
            futures = [
                pool.submit(_sync_once, store, source, mode, tally)
                for source, mode in zip(sources, modes, strict=True)
            ]
            for future in futures:
                future.result()  # an unexpected exception fails the soak here
            for source in sources:
                tally.false_missing += _false_missing(store, source)
                source.stir(tally)

    # Faults off; finish any pass a failure or a stop left open; one last reconciling sync.
    faults: Counter[str] = Counter()
    throttled_by_server = 0
    for source in sources:
        stats = source.sim.stats()
        faults.update(stats["faults"])
        throttled_by_server += stats["throttled"]
        source.sim.set_faults({})
    final: list[RunSummary] = []
    for source in sources:
        for _ in range(3):
            if not _unfinished_pass(store, source.practice.name):
                break
            _sync_once_quietly(store, source, tally)
        final.append(_sync_once_quietly(store, source, tally, RunMode.RECONCILE))

    compared = mismatched = 0
    for source in sources:
        rows, bad = _mismatches(store, source)
        compared += rows
        mismatched += bad

    with capsys.disabled():
        print(
            f"\nsoak [{store.dialect.name}]: {ROUNDS} rounds x {len(sources)} practices; "
            f"{sum(tally.outcomes.values())} syncs {dict(tally.outcomes)} by mode "
            f"{dict(tally.modes)}; {tally.retries} retries"
            f"\n  faults injected: {sum(faults.values())} {dict(sorted(faults.items()))}"
            f"\n  429s: {throttled_by_server} refused by the server, {tally.client_throttled} "
            f"met by clients; practice events {dict(tally.events)}"
            f"\n  rows compared: {compared}; mismatches: {mismatched}; rows wrongly marked "
            f"missing between rounds (purges during a pass, fixed by reconcile): "
            f"{tally.false_missing}"
        )

    assert all(summary.outcome == "ok" for summary in final), [s.error for s in final]
    assert all(summary.mode == "reconcile" for summary in final)
    assert mismatched == 0
    assert compared >= sum(p.patients for p in PRACTICES) - ROUNDS * len(PRACTICES)
    # The soak really soaked: faults of every kind met, throttling met, syncs failed and ended.
    assert len(faults) >= 5
    assert throttled_by_server > 0
    assert tally.outcomes["ok"] > 0


def _sync_once_quietly(
    engine: Engine, source: Source, tally: Tally, mode: RunMode = RunMode.AUTO
) -> RunSummary:
    """A run with nothing changing underneath and nobody stopping it."""
    with _client(source.practice, source.sim) as client:
        sync = ResourceSync(engine, client, source.practice.name, outage_waits=OUTAGE_WAITS)
        summary = sync.run(mode)
    tally.add(summary)
    return summary
