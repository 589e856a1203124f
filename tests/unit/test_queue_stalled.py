"""``odbridge worker --stalled-after``: the worker's own once-a-minute check and
Procrastinate's pruning of silent workers both wait that long, not a fixed 30 s."""

from __future__ import annotations

import asyncio
from typing import Any

import procrastinate
import pytest

from odbridge.queue import app as queue_app
from odbridge.queue.app import STALLED_FLOOR, make_app, worker_options

pytestmark = pytest.mark.unit

URL = "postgresql+psycopg://odbridge@db.internal/odbridge"


def periodic_check_waits(stalled_after: float, monkeypatch: pytest.MonkeyPatch) -> float:
    seen: list[float] = []

    async def requeue(_app: procrastinate.App, after_seconds: float) -> int:
        seen.append(after_seconds)
        return 0

    monkeypatch.setattr(queue_app, "requeue_stalled", requeue)
    task: Any = make_app(URL, stalled_after=stalled_after).tasks["odbridge.requeue_stalled"]
    asyncio.run(task.func(timestamp=0))
    return seen[0]


def test_the_once_a_minute_check_waits_the_workers_stalled_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert periodic_check_waits(300, monkeypatch) == 300


def test_the_once_a_minute_check_never_takes_a_live_worker_for_dead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 0 retries every running job at start; every minute it would retry the worker's own
    assert periodic_check_waits(0, monkeypatch) == STALLED_FLOOR


def test_procrastinate_prunes_silent_workers_after_stalled_after_too() -> None:
    assert worker_options(4, False, 300)["stalled_worker_timeout"] == 300
    assert worker_options(4, False, 0)["stalled_worker_timeout"] == STALLED_FLOOR
    options = worker_options(4, True, 30)
    assert options["concurrency"] == 4
    assert options["wait"] is False
