"""Schedules on the queue (`odbridge worker --every`): a Procrastinate periodic task whose
tick queues one sync job per practice. Driven with controlled tick timestamps through
Procrastinate's own periodic deferrer, then run by a real worker loop."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from odbridge.cli import app as cli
from odbridge.queue.app import (
    MAINTENANCE_QUEUE,
    SCHEDULE_TASK,
    JobOptions,
    Schedule,
    make_app,
)
from odbridge.queue.migrations import ensure_queue_schema
from odbridge.queue.schedule import cron_for
from tests.integration.test_queue import one_line, write_config

pytestmark = pytest.mark.integration

QUARTER = datetime(2026, 11, 30, 0, 15, tzinfo=UTC).timestamp()
"""A tick of ``*/15 * * * *``."""


def jobs(store_url: str) -> list[tuple[str, str, str, dict[str, object]]]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT task_name, status::text, coalesce(lock, ''), args "
                    "FROM procrastinate_jobs ORDER BY id"
                )
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2], dict(r[3])) for r in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", [pytest.param("postgres")], indirect=True)
def test_each_tick_queues_every_practice_once_however_many_workers(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    write_config(config, "http://127.0.0.1:9/api/v1", 3)
    monkeypatch.setenv("ODBRIDGE_CONFIG", str(config))
    ensure_queue_schema(store_url)
    schedule = Schedule(cron_for("15m"), JobOptions(visits=True, history_years=2))
    queue = make_app(store_url, schedule)

    periodic = {key: task.cron for key, task in queue.periodic_registry.periodic_tasks.items()}
    assert periodic[(SCHEDULE_TASK, "sync every */15 * * * * +visits")] == "*/15 * * * *"

    async def tick(at: float, workers: int = 1) -> None:
        """What the periodic deferrer of each of ``workers`` workers does at ``at``."""
        for _ in range(workers):
            deferrer = PeriodicDeferrer(queue.periodic_registry)
            due = [
                (task, stamp)
                for task, stamp in deferrer.get_previous_tasks(at=at)
                if task.task.name == SCHEDULE_TASK
            ]
            assert [stamp for _, stamp in due] == [int(at // 900 * 900)]
            await deferrer.defer_jobs(due)

    async def run_maintenance() -> None:
        await queue.run_worker_async(queues=[MAINTENANCE_QUEUE], wait=False)

    async def scenario() -> None:
        async with queue.open_async():
            await tick(QUARTER + 3, workers=3)  # three workers share the schedule
            ticks = [j for j in jobs(store_url) if j[0] == SCHEDULE_TASK]
            assert [j[3] for j in ticks] == [{"timestamp": int(QUARTER)}]
            await run_maintenance()
            await tick(QUARTER + 900 + 1)  # the next tick, while the first jobs still wait
            await run_maintenance()

    asyncio.run(scenario())
    syncs = [j for j in jobs(store_url) if j[0] == "odbridge.sync_practice"]
    assert Counter(lock for _, _, lock, _ in syncs) == {"p1": 1, "p2": 1, "p3": 1}
    assert {status for _, status, _, _ in syncs} == {"todo"}
    assert [args for *_, args in syncs] == [
        {"practice": f"p{i}", "visits": True, "history_years": 2} for i in (1, 2, 3)
    ]
    # (the worker loop's own deferrer may add a tick of the real clock: harmless, as shown)
    controlled = {
        int(str(j[3]["timestamp"])): j[1]
        for j in jobs(store_url)
        if j[0] == SCHEDULE_TASK and int(str(j[3]["timestamp"])) in (QUARTER, QUARTER + 900)
    }
    assert controlled == {int(QUARTER): "succeeded", int(QUARTER) + 900: "succeeded"}


def test_schedules_are_refused_where_they_cannot_run(tmp_path: Path) -> None:
    db = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    runner = CliRunner()
    uneven = runner.invoke(cli, ["worker", "--every", "7m", "--db", db])
    assert uneven.exit_code == 2
    assert "must divide a minute, an hour or a day evenly" in one_line(uneven.output)
    on_sync = runner.invoke(cli, ["sync", "--all", "--queue", "--every", "15m", "--db", db])
    assert on_sync.exit_code == 2
    assert "odbridge worker --every 15m" in one_line(on_sync.output)
    visits_alone = runner.invoke(cli, ["worker", "--visits", "--db", db])
    assert visits_alone.exit_code == 2
    assert "add --every" in one_line(visits_alone.output)
