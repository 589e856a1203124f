"""Dashboard benchmark: p50 / p95 server time of each page over a store of 100,000 patients,
on SQLite and on PostgreSQL (target: p95 <= 150 ms per page).

Run: .venv/bin/python bench/dashboard.py [--patients N] [--requests N] [--sqlite-only]

The dashboard runs under uvicorn on a loopback port, logged in as an admin; the server time
is the app's own ``Server-Timing`` (request in to response start: queries, template, audit
write). "cached" pages read the overview aggregates computed after the last sync; "first
view" clears that cache before each request, as the very first view after a sync would (the
dashboard normally computes those in the background instead). PostgreSQL uses its own
schema, ``bench_dash``, created and dropped here.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import PG_URL, fill_store

from odbridge.dashboard.app import create_app
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema import patients
from odbridge.store.users import add_user

PG_SCHEMA = "bench_dash"
USER, PASSWORD = "bench", "bench-password-123"
TARGET_MS = 150.0


def server_ms(response: httpx.Response) -> float:
    found = re.search(r"dur=([\d.]+)", response.headers.get("server-timing", ""))
    if response.status_code != 200 or found is None:
        raise RuntimeError(f"{response.request.url.path}: HTTP {response.status_code}")
    return float(found.group(1))


def log_in(http: httpx.Client) -> None:
    page = http.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = http.post(
        "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if response.status_code != 303:
        raise RuntimeError("could not log in")


def page_plan(engine: Engine, requests: int) -> list[tuple[str, Callable[[int], str], bool]]:
    """(name, i -> URL, clear the cache first) for every page measured."""
    rng = random.Random(5)
    with engine.connect() as connection:
        names = connection.execute(
            select(patients.c.lname).distinct().order_by(patients.c.lname).limit(400)
        ).scalars()
        prefixes = [n[:3].lower() for n in names if n and len(n) >= 3]
        numbers = [
            int(n)
            for n in connection.execute(
                select(patients.c.pat_num).order_by(patients.c.pat_num).limit(100_000)
            ).scalars()
        ]
    picks = [rng.choice(numbers) for _ in range(requests)]
    words = [rng.choice(prefixes) for _ in range(requests)]
    digits = [f"{rng.randint(0, 9999):04d}" for _ in range(requests)]
    base = "practice=main"
    return [
        ("overview (cached)", lambda i: f"/?{base}", False),
        ("overview (first view, cache cleared)", lambda i: f"/?{base}", True),
        ("patients: list, page 1..n", lambda i: f"/patients?{base}&page={i % 40 + 1}", False),
        ("patients: search a name", lambda i: f"/patients?{base}&q={words[i]}", False),
        (
            "patients: search 'first last'",
            lambda i: f"/patients?{base}&q=a+{words[i]}",
            False,
        ),
        ("patients: search phone digits", lambda i: f"/patients?{base}&q={digits[i]}", False),
        ("patients: search email", lambda i: f"/patients?{base}&q={words[i]}%40", False),
        ("patients: search a PatNum", lambda i: f"/patients?{base}&q={picks[i]}", False),
        (
            "patients: sort by balance desc",
            lambda i: f"/patients?{base}&sort=balance&dir=desc&page={i % 5 + 1}",
            False,
        ),
        (
            "patients: status + clinic filter",
            lambda i: f"/patients?{base}&status=Patient&clinic={i % 3 + 1}&sort=birthdate",
            False,
        ),
        ("patient detail + family", lambda i: f"/patients/{picks[i]}?{base}", False),
        (
            "data quality (cached), page 1..n",
            lambda i: (
                f"/quality?{base}&check={['phones', 'no_phone', 'emails'][i % 3]}&page={i % 4 + 1}"
            ),
            False,
        ),
        ("data quality (first view, cache cleared)", lambda i: f"/quality?{base}", True),
        ("audit log", lambda i: f"/audit?page={i % 3 + 1}", False),
    ]


def measure(engine: Engine, label: str, requests: int) -> list[tuple[str, float, float, float]]:
    app = create_app(engine, secret_key=b"bench-secret-key-0123456789abcdef")
    dashboard = app.state.dashboard
    results = []
    with (
        DashboardServer(app) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=120) as http,
    ):
        started = time.perf_counter()
        log_in(http)
        http.get("/?practice=main")  # waits for the startup's background computation
        dashboard.cache.wait(600)
        warm = time.perf_counter() - started
        print(f"\n{label}: background computation of overview + data quality: {warm:.1f} s")
        print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  n")
        for name, url, cold in page_plan(engine, requests):
            times = []
            count = max(5, requests // 5) if cold else requests
            http.get(url(0))  # one untimed request: connections, template compile
            for i in range(count):
                if cold:
                    dashboard.cache.clear()
                times.append(server_ms(http.get(url(i))))
            times.sort()
            p50 = statistics.median(times)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            flag = "" if p95 <= TARGET_MS else "  > target"
            print(f"{name:44} {p50:8.1f} {p95:8.1f} {times[-1]:8.1f}  {count}{flag}")
            results.append((name, p50, p95, times[-1]))
            if cold:
                dashboard.cache.clear()
                http.get(url(0))
    return results


@contextmanager
def sqlite_store(patients_count: int) -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_store_engine(f"sqlite:///{folder}/bench.sqlite")
        fill(engine, patients_count)
        yield engine
        engine.dispose()


@contextmanager
def postgres_store(patients_count: int) -> Iterator[Engine]:
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    try:
        engine = create_store_engine(f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}")
        fill(engine, patients_count)
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))  # what autovacuum does soon after a big sync
        yield engine
        engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        admin.dispose()


def fill(engine: Engine, count: int) -> None:
    started = time.perf_counter()
    fill_store(engine, "main", count, seed=21)
    add_user(engine, USER, PASSWORD, "admin")
    print(f"filled {count:,} patients in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40, help="per page")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with sqlite_store(args.patients) as engine:
        measure(engine, f"SQLite, {args.patients:,} patients", args.requests)
    if not args.sqlite_only:
        with postgres_store(args.patients) as engine:
            measure(engine, f"PostgreSQL, {args.patients:,} patients", args.requests)


if __name__ == "__main__":
    main()
