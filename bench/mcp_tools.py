"""MCP benchmark: p50 / p95 time of each tool call, as an assistant sees it, over a store of
N patients with a visit history (SQLite; --postgres for PostgreSQL too).

Run: .venv/bin/python bench/mcp_tools.py [--patients N] [--calls N] [--postgres]

The server is odbridge's FastMCP server; the client is the SDK's ClientSession, connected in
memory (the transport's own cost is not measured). Each call reads the store and writes its
audit entry. "first" is the first call of each kind (the aggregates' cache empty, as after a
sync); p50/p95 are over the later rounds. PostgreSQL uses its own schema, ``bench_mcp``,
created and dropped here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import PG_URL
from tests.visits_data import fill_visits

from odbridge.mcp.run import identify_user, open_env
from odbridge.mcp.server import create_server
from odbridge.store.db import create_store_engine
from odbridge.store.schema import patients
from odbridge.store.users import add_user

PG_SCHEMA = "bench_mcp"
PRACTICE = "bench"


def calls(pat_num: int, lname: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("search_patients", {"query": lname}),
        ("search_patients", {"query": "555"}),
        ("get_patient", {"pat_num": pat_num}),
        ("overview", {}),
        ("visit_figures", {}),
        ("worklist", {"name": "recall"}),
        ("data_quality", {"check": "phones"}),
        ("sync_status", {}),
    ]


def measure(url: str, count: int, rounds: int) -> None:
    engine = create_store_engine(url)
    started = time.perf_counter()
    fill_visits(engine, PRACTICE, count, now=datetime.now(), seed=11)
    add_user(engine, "bench", "bench-password-123", role="viewer")
    print(f"  filled {count:,} patients with visits in {time.perf_counter() - started:.0f} s")
    with engine.connect() as connection:
        pat_num, lname = connection.execute(
            select(patients.c.pat_num, patients.c.lname).where(patients.c.lname.is_not(None))
        ).first() or (1, "A")
    engine.dispose()
    env = open_env(url)
    server = create_server(env, identify_user(env, "bench"))
    times: dict[str, list[float]] = {}

    async def run() -> None:
        session: ClientSession
        async with create_connected_server_and_client_session(server) as session:
            for _ in range(rounds):
                for name, arguments in calls(pat_num, lname[:4]):
                    begun = time.perf_counter()
                    result = await session.call_tool(name, arguments)
                    elapsed = (time.perf_counter() - begun) * 1000
                    if result.isError:
                        raise RuntimeError(f"{name}: {result.content}")
                    label = f"{name} {next(iter(arguments.values()), '')}".strip()
                    times.setdefault(label, []).append(elapsed)

    anyio.run(run)
    print(f"  {'tool call':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, values in times.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"  {label[:34]:34} {statistics.median(values):8.1f} {p95:8.1f} {ordered[-1]:8.1f}")
    env.close()


@contextmanager
def postgres_schema() -> Iterator[str]:
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{PG_SCHEMA}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{PG_SCHEMA}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=10, help="rounds of every tool call")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(f"SQLite, {args.patients:,} patients, {args.calls} rounds")
        measure(f"sqlite:///{Path(folder) / 'bench.sqlite'}", args.patients, args.calls)
    if args.postgres:
        with postgres_schema() as url:
            print(f"PostgreSQL, {args.patients:,} patients, {args.calls} rounds")
            measure(url, args.patients, args.calls)


if __name__ == "__main__":
    main()
