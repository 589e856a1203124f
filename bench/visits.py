"""Visits benchmark: KPI compute time and the visit pages' p50 / p95 server time over a store
of 100,000 patients, ~1,000,000 appointments and ~3,000,000 procedures, on SQLite and on
PostgreSQL (targets: KPIs computed in under 10 s after a sync; page p95 <= 150 ms).

Run: .venv/bin/python bench/visits.py [--patients N] [--visits N] [--treatment X]
         [--requests N] [--only sqlite|postgresql] [--sqlite-file PATH] [--keep-pg]

Rows are generated straight into the store with bulk inserts (tests/visits_data.py: the
simulator's patients, a seeded visit history; the defaults give ~1.0M appointments and ~3.0M
procedures for 100,000 patients); the sync path and its memory are measured by
bench/visits_sync.py. "KPIs cold" is :func:`compute_kpis` with nothing cached (the pass over
the appointments included), as the background computation after a sync runs it; each part's
time is printed. Pages are served by uvicorn on a loopback port, logged in; the server time
is the app's own ``Server-Timing``. PostgreSQL uses its own database, ``odbridge_bench_kpi``,
created and dropped here (``--keep-pg`` keeps it, and a later run reuses it). With
``--sqlite-file`` the SQLite store is kept there and reused by a later run (the schema is
upgraded on open, as ``odbridge`` does).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import PASSWORD, USER, log_in, server_ms  # bench/dashboard.py
from tests.helpers import PG_URL
from tests.visits_data import fill_visits

from odbridge.dashboard.app import create_app
from odbridge.dashboard.queries import visit_kpis
from odbridge.dashboard.queries.visit_kpis import compute_kpis, visit_summary
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema_visits import appointments, procedure_logs
from odbridge.store.users import add_user

PG_DATABASE = "odbridge_bench_kpi"
TARGET_MS = 150.0
TARGET_KPI_S = 10.0


def fill(engine: Engine, count: int, visits: int, treatment: float) -> None:
    """Fill the store, unless it already holds the practice (a kept store)."""
    with engine.connect() as connection:
        present = connection.execute(select(func.count()).select_from(appointments)).scalar_one()
    if present:
        print(f"reusing the store ({present:,} appointments)")
        return
    started = time.perf_counter()
    counts = fill_visits(
        engine,
        "main",
        count,
        now=datetime.now(),
        seed=21,
        visits_per_patient=visits,
        treatment_per_visit=treatment,
    )
    add_user(engine, USER, PASSWORD, "admin")
    # statistics, and on PostgreSQL the visibility map that index-only scans need: what
    # autovacuum leaves after a bulk load (the bench does not wait for it)
    analyze = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(analyze)
    print(
        f"filled {count:,} patients, {counts['appointments']:,} appointments, "
        f"{counts['procedures']:,} procedures, {counts['recalls']:,} recalls "
        f"in {time.perf_counter() - started:.0f} s"
    )


def profiled(parts: dict[str, float]) -> Iterator[None]:
    """Time each query helper of :func:`compute_kpis` (its module's functions, wrapped)."""
    originals = {name: getattr(visit_kpis, name) for name in PROFILED}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - started

        return call

    for name, function in originals.items():
        setattr(visit_kpis, name, timed(name, function))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(visit_kpis, name, function)


PROFILED = (
    "visit_summary",
    "_by_month",
    "_production",
    "_appointments_by_month",
    "_recall_counts",
    "tp_unscheduled",
)


def server_cpu(engine: Engine) -> float:
    """CPU seconds used so far by the PostgreSQL backends of this engine's pool (read from
    /proc: the server runs on this machine); 0 on SQLite, whose work is this process's."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    return total / os.sysconf("SC_CLK_TCK")


def kpi_times(engine: Engine, label: str) -> tuple[float, float]:
    """Seconds for the visit summary and for every figure (cold, nothing cached); wall
    time, and CPU time (this process + the PostgreSQL session, parallel workers not
    counted): on a shared machine the wall time is mostly waiting for a core."""
    now = datetime.now()
    server_before, cpu_before = server_cpu(engine), time.process_time()
    started = time.perf_counter()
    summary = visit_summary(engine, "main", now)
    summary_s = time.perf_counter() - started
    started = time.perf_counter()
    parts: dict[str, float] = {}
    with contextmanager(profiled)(parts):
        kpis = compute_kpis(engine, "main", now=now, summary=summary)
    rest_s = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    server = server_cpu(engine) - server_before
    total = summary_s + rest_s
    flag = "" if total <= TARGET_KPI_S else "  > target"
    print(
        f"\n{label}: KPIs cold {total:.2f} s wall (last/next visit pass {summary_s:.2f} s, "
        f"figures {rest_s:.2f} s){flag}; CPU {cpu + server:.2f} s (odbridge {cpu:.2f} s, "
        f"database server {server:.2f} s); load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores; active {kpis.active_patients:,}, "
        f"production this month {kpis.production[-1]:,}"
    )
    print("  figures by part (wall): " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
    return summary_s, rest_s


def page_plan(engine: Engine) -> list[tuple[str, Callable[[int], str]]]:
    rng = random.Random(5)
    with engine.connect() as connection:
        numbers = [
            int(n)
            for n in connection.execute(
                select(appointments.c.pat_num).distinct().limit(20_000)
            ).scalars()
        ]
    picks = [rng.choice(numbers) for _ in range(1000)]
    base = "practice=main"
    return [
        ("overview with visit figures (cached)", lambda i: f"/?{base}"),
        ("/overview.json (cached)", lambda i: f"/overview.json?{base}"),
        ("schedule today + tomorrow", lambda i: f"/schedule?{base}"),
        ("worklist recall, page 1..n", lambda i: f"/worklists/recall?{base}&page={i % 20 + 1}"),
        (
            "worklist unscheduled, page 1..n",
            lambda i: f"/worklists/unscheduled?{base}&page={i % 20 + 1}",
        ),
        (
            "worklist reactivation, page 1..n",
            lambda i: f"/worklists/reactivation?{base}&page={i % 20 + 1}",
        ),
        ("worklist tomorrow's unconfirmed", lambda i: f"/worklists/unconfirmed?{base}"),
        ("patient page with visits", lambda i: f"/patients/{picks[i % len(picks)]}?{base}"),
    ]


def measure(engine: Engine, label: str, requests: int) -> None:
    app = create_app(engine, secret_key=b"bench-secret-key-0123456789abcdef", warm=False)
    with (
        DashboardServer(app) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=600) as http,
    ):
        log_in(http)
        started = time.perf_counter()
        for url in (
            "/?practice=main",
            "/worklists/recall?practice=main",
            "/worklists/unscheduled?practice=main",
            "/worklists/reactivation?practice=main",
        ):
            http.get(url)  # first views compute and cache the figures and worklists
        print(
            f"{label}: first views (figures + worklists computed): "
            f"{time.perf_counter() - started:.1f} s"
        )
        print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  n")
        for name, make_url in page_plan(engine):
            http.get(make_url(0))
            times = sorted(server_ms(http.get(make_url(i))) for i in range(requests))
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            flag = "" if p95 <= TARGET_MS else "  > target"
            print(f"{name:44} {p50:8.1f} {p95:8.1f} {times[-1]:8.1f}  {requests}{flag}")


@contextmanager
def sqlite_store(path: str | None, args: argparse.Namespace) -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{path or folder + '/bench.sqlite'}")
        fill(engine, args.patients, args.visits, args.treatment)
        yield engine
        engine.dispose()


@contextmanager
def postgres_store(keep: bool, args: argparse.Namespace) -> Iterator[Engine]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_DATABASE}
        ).scalar()
        if not exists:
            connection.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    try:
        url = make_url(PG_URL).set(database=PG_DATABASE)
        engine = create_store_engine(url.render_as_string(hide_password=False))
        fill(engine, args.patients, args.visits, args.treatment)
        yield engine
        engine.dispose()
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        admin.dispose()


def run(engine: Engine, label: str, requests: int, pages: bool = True) -> None:
    with engine.connect() as connection:
        apts = connection.execute(select(func.count()).select_from(appointments)).scalar_one()
        procs = connection.execute(select(func.count()).select_from(procedure_logs)).scalar_one()
    label = f"{label} ({apts:,} appointments, {procs:,} procedures)"
    kpi_times(engine, label)
    if pages:
        measure(engine, label, requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument(
        "--visits", type=int, default=18, help="hygiene visits per patient, at most"
    )
    parser.add_argument(
        "--treatment", type=float, default=0.8, help="treatment procedures per visit, mean"
    )
    parser.add_argument("--requests", type=int, default=30, help="per page")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--sqlite-file", help="keep the SQLite store here (reused if filled)")
    parser.add_argument("--kpis-only", action="store_true", help="no page timings")
    parser.add_argument("--keep-pg", action="store_true", help=f"keep {PG_DATABASE}")
    args = parser.parse_args()
    if args.only != "postgresql":
        with sqlite_store(args.sqlite_file, args) as engine:
            run(engine, f"SQLite, {args.patients:,} patients", args.requests, not args.kpis_only)
    if args.only != "sqlite":
        with postgres_store(args.keep_pg, args) as engine:
            run(
                engine,
                f"PostgreSQL, {args.patients:,} patients",
                args.requests,
                not args.kpis_only,
            )


if __name__ == "__main__":
    main()
