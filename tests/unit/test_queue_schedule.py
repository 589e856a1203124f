"""``--every`` as cron: on the clock, so every worker computes the same ticks."""

from __future__ import annotations

import pytest

from odbridge.queue.schedule import cron_for


@pytest.mark.parametrize(
    ("every", "cron"),
    [
        ("30s", "* * * * * */30"),
        ("60s", "* * * * *"),
        ("1m", "* * * * *"),
        ("15m", "*/15 * * * *"),
        ("1h", "0 * * * *"),
        ("6h", "0 */6 * * *"),
        ("1d", "0 0 * * *"),
        ("24h", "0 0 * * *"),
        ("0 2 * * *", "0 2 * * *"),
    ],
)
def test_a_schedule_becomes_a_cron_line_on_the_clock(every: str, cron: str) -> None:
    assert cron_for(every) == cron


@pytest.mark.parametrize("every", ["7m", "5h", "2d", "0.5s", "90s"])
def test_a_schedule_that_does_not_divide_its_unit_is_refused(every: str) -> None:
    with pytest.raises(ValueError, match="must divide a minute, an hour or a day evenly"):
        cron_for(every)


def test_a_bad_cron_line_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid cron expression"):
        cron_for("99 * * * *")
