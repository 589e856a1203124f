"""The login throttle and the cap on concurrent password hashes (issue 14 items 1 and 2)."""

from __future__ import annotations

import pytest

from odbridge.dashboard.throttle import HashGate, LoginThrottle

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_attempts_are_counted_before_the_password_is_checked() -> None:
    """Thirty guesses that all begin before any hash finishes: only the free ones get in."""
    throttle = LoginThrottle(clock=Clock())
    admitted = [throttle.begin("alice", "10.0.0.1") is None for _ in range(30)]
    assert admitted == [True] * 5 + [False] * 25


def test_the_lock_grows_caps_and_a_success_clears_it() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock, account_free=1000)
    for _ in range(5):
        assert throttle.begin("Alice", "10.0.0.1") is None  # names are case-blind
    refusal = throttle.begin("alice", "10.0.0.1")
    assert refusal is not None
    assert refusal.wait == pytest.approx(30)
    assert throttle.begin("alice", "10.0.0.2") is None  # another address
    assert throttle.begin("bob", "10.0.0.1") is None  # another user
    clock.now += 31
    assert throttle.begin("alice", "10.0.0.1") is None
    assert throttle.retry_after("alice", "10.0.0.1") == pytest.approx(60)  # doubled
    for _ in range(10):
        clock.now += 1000
        throttle.begin("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.1") == pytest.approx(900)  # capped
    throttle.succeeded("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.1") == 0


def test_an_address_is_limited_over_many_names() -> None:
    throttle = LoginThrottle(clock=Clock())
    for i in range(20):
        assert throttle.begin(f"user{i}", "10.9.9.9") is None
    assert throttle.begin("someone-else", "10.9.9.9") is not None


def test_one_account_is_slowed_down_across_every_address() -> None:
    """Guesses at one account from ever new addresses: after ten, a short lock that grows
    to a minute at most (slowed, not locked out for long)."""
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for i in range(10):
        assert throttle.begin("alice", f"10.0.0.{i}") is None
    refusal = throttle.begin("alice", "10.0.1.1")
    assert refusal is not None
    assert 0 < refusal.wait <= 60
    assert throttle.begin("bob", "10.0.1.1") is None  # other accounts are not affected
    for _ in range(20):
        clock.now += 61
        throttle.begin("alice", f"10.0.2.{int(clock.now) % 250}")
    assert 0 < throttle.retry_after("alice", "10.0.3.3") <= 60


def test_refusals_in_one_lock_window_are_counted_together() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        throttle.begin("alice", "10.0.0.1")
    first = throttle.begin("alice", "10.0.0.1")
    assert first is not None
    assert (first.count, first.audit_id) == (1, None)
    throttle.remember_audit(first.window, 42)
    for expected in range(2, 6):
        later = throttle.begin("alice", "10.0.0.1")
        assert later is not None
        assert (later.window, later.count, later.audit_id) == (first.window, expected, 42)
    clock.now += 31  # the window ends; the next failure opens a new one
    assert throttle.begin("alice", "10.0.0.1") is None
    fresh = throttle.begin("alice", "10.0.0.1")
    assert fresh is not None
    assert (fresh.count, fresh.audit_id) == (1, None)


def test_the_table_stays_bounded_and_keeps_locked_keys() -> None:
    throttle = LoginThrottle(clock=Clock(), max_entries=100)
    for _ in range(5):
        throttle.begin("alice", "10.0.0.1")
    for i in range(1000):
        throttle.begin(f"user{i}", f"10.1.{i // 250}.{i % 250}")
        assert len(throttle) <= 100
    assert throttle.begin("alice", "10.0.0.1") is not None  # still locked


def test_the_hash_gate_admits_a_fixed_number_at_once() -> None:
    gate = HashGate(2)
    assert gate.try_enter()
    assert gate.try_enter()
    assert not gate.try_enter()
    gate.leave()
    assert gate.try_enter()
