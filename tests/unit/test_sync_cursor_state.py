"""The cursor and the choice of run: small objects, no HTTP, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from odbridge.store.runlog import RunMode
from odbridge.sync.cursor import MIN_OVERLAP, Cursor, check_overlap
from odbridge.sync.state import PassState, SyncState, choose_mode

pytestmark = pytest.mark.unit

HOUR = timedelta(hours=1)
T0 = datetime(2026, 3, 8, 1, 30, 0)


def test_the_next_cursor_is_the_first_page_time_minus_the_overlap() -> None:
    cursor = Cursor(None, HOUR).after_pass(T0)
    assert cursor.text == "2026-03-08 00:30:00"


def test_the_cursor_never_moves_backwards() -> None:
    cursor = Cursor(T0, HOUR)
    assert cursor.after_pass(T0 - timedelta(minutes=5)) == cursor
    assert cursor.after_pass(T0 + HOUR).value == T0  # exactly the same point: kept
    assert cursor.after_pass(T0 + 2 * HOUR).value == T0 + HOUR


def test_a_pass_without_server_time_keeps_the_cursor() -> None:
    cursor = Cursor.parse("2026-01-02 03:04:05")
    assert cursor.after_pass(None) is cursor
    assert Cursor.parse(None).after_pass(None).text is None


def test_zone_aware_stamps_keep_their_wall_clock_time() -> None:
    eastern = timezone(timedelta(hours=-5))
    aware = datetime(2026, 11, 1, 1, 30, 0, 123456, tzinfo=eastern)
    assert Cursor(aware).text == "2026-11-01 01:30:00"
    # a mix of aware and naive stamps compares without a TypeError
    cursor = Cursor(datetime(2026, 11, 1, 0, 0), HOUR).after_pass(aware)
    assert cursor.text == "2026-11-01 00:30:00"
    assert Cursor(datetime(2026, 1, 1, tzinfo=UTC)).value == datetime(2026, 1, 1)


def test_an_overlap_below_the_floor_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="daylight-saving") as refused:
        check_overlap(timedelta(minutes=59))
    assert "1h" in str(refused.value)
    with pytest.raises(ValueError, match="too short"):
        Cursor(None, timedelta(minutes=10))
    assert check_overlap(MIN_OVERLAP) == MIN_OVERLAP


def test_an_edit_in_the_hour_after_a_fall_back_is_read_again() -> None:
    """At 02:00 the clock goes back to 01:00; a row edited at 01:10 (second time round)
    has a stamp earlier than a pass that began at 01:59 (first time round)."""
    cursor = Cursor(None, MIN_OVERLAP).after_pass(datetime(2026, 11, 1, 1, 59, 0))
    edited_after_the_change = datetime(2026, 11, 1, 1, 10, 0)
    assert cursor.value is not None
    assert cursor.value <= edited_after_the_change


def _state(
    cursor: str | None = "2026-01-01 00:00:00", unfinished: PassState | None = None
) -> SyncState:
    return SyncState("main", "patients", cursor=cursor, unfinished=unfinished)


NOW = datetime(2026, 1, 10, 12, 0, 0)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("state", "last_pass", "expected"),
    [
        (_state(cursor=None), None, RunMode.FULL),
        (_state(unfinished=PassState(7, RunMode.RECONCILE, 300)), NOW, RunMode.RECONCILE),
        (_state(unfinished=PassState(7, RunMode.FULL, 300)), NOW, RunMode.FULL),
        (_state(), NOW - timedelta(hours=3), RunMode.INCREMENTAL),
        (_state(), NOW - DAY, RunMode.RECONCILE),
        (_state(), NOW - 3 * DAY, RunMode.RECONCILE),
        (_state(), None, RunMode.RECONCILE),
    ],
)
def test_auto_reconciles_on_a_time_basis(
    state: SyncState, last_pass: datetime | None, expected: RunMode
) -> None:
    chosen = choose_mode(RunMode.AUTO, state, last_pass=last_pass, now=NOW, reconcile_every=DAY)
    assert chosen == expected


def test_explicit_modes_and_full_reload_resources() -> None:
    def choose(mode: RunMode, state: SyncState, *, incremental: bool = True) -> RunMode:
        return choose_mode(
            mode, state, last_pass=NOW, now=NOW, reconcile_every=DAY, incremental=incremental
        )

    assert choose(RunMode.INCREMENTAL, _state(cursor=None)) == RunMode.FULL
    assert choose(RunMode.RECONCILE, _state()) == RunMode.RECONCILE
    # a resource without a change filter always reads everything
    assert choose(RunMode.AUTO, _state(), incremental=False) == RunMode.FULL
    assert choose(RunMode.INCREMENTAL, _state(), incremental=False) == RunMode.FULL


def test_the_cli_refuses_a_short_overlap_and_says_why() -> None:
    from typer.testing import CliRunner

    from odbridge.cli import app

    result = CliRunner().invoke(app, ["sync", "--overlap", "30m"])
    assert result.exit_code == 2
    assert "daylight-saving" in result.output
    assert "at least 1:00:00 (1h)" in result.output
    unreadable = CliRunner().invoke(app, ["sync", "--reconcile-every", "daily"])
    assert unreadable.exit_code == 2
    assert "is not a duration" in unreadable.output
