"""The pacer: start-to-start spacing, sharing per customer key, reaction to 429s."""

from __future__ import annotations

import itertools
import logging
import threading

import pytest
from pydantic import SecretStr

from odbridge.api import pacing
from odbridge.api.pacing import Pacer, pacer_for, reset_pacers, safety_margin

pytestmark = pytest.mark.unit


class FakeClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.late = 0.0
        """Seconds each sleep oversleeps (a thread woken late)."""
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.late


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    reset_pacers()


def fake_pacer(interval: float, **kwargs: float) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(interval, clock=clock, sleep=clock.sleep, **kwargs), clock


def test_first_request_starts_at_once_then_spaced_by_interval_plus_margin() -> None:
    pacer, clock = fake_pacer(1.0)
    starts = []
    for _ in range(5):
        pacer.acquire()
        starts.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert clock.sleeps[0] == pytest.approx(1.01)
    assert all(gap == pytest.approx(1.0 + safety_margin(1.0)) for gap in gaps)


@pytest.mark.parametrize("interval", [0.2, 0.5, 1.0, 5.0])
def test_margin_keeps_budget_within_two_percent(interval: float) -> None:
    margin = safety_margin(interval)
    assert margin > 0
    assert (interval + margin) / interval <= 1.02


def test_time_spent_working_counts_towards_the_interval() -> None:
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()
    clock.now += 0.7  # the request took 0.7 s
    assert pacer.acquire() == pytest.approx(0.3)
    clock.now += 3.0  # idle longer than the interval
    assert pacer.acquire() == 0.0


def test_zero_interval_never_waits() -> None:
    pacer, clock = fake_pacer(0.0)
    for _ in range(10):
        assert pacer.acquire() == 0.0
    assert clock.sleeps == []


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Pacer(-1)


class ThreadClocks:
    """One clock per thread, each moving only when its thread sleeps (no real waiting)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self) -> float:
        return getattr(self._local, "now", 100.0)

    def sleep(self, seconds: float) -> None:
        self._local.now = self() + seconds


def test_threads_share_the_budget_and_departures_never_crowd() -> None:
    """20 requests from 4 threads: every departure is at least one interval after the one
    before, whatever order the threads come back in."""
    interval = 0.02
    clocks = ThreadClocks()
    pacer = Pacer(interval, margin=0.0, clock=clocks, sleep=clocks.sleep)
    departures: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(4)

    def worker() -> None:
        ready.wait()
        for _ in range(5):
            pacer.acquire()
            with lock:
                departures.append(clocks())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(departures) == 20
    gaps = [b - a for a, b in itertools.pairwise(sorted(departures))]
    assert min(gaps) >= interval - 1e-6


def test_a_late_departure_pushes_the_next_slot() -> None:
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()  # leaves at 100.0
    clock.late = 0.3
    pacer.acquire()  # its slot is 101.0, but the thread wakes 0.3 s late: leaves at 101.3
    clock.late = 0.0
    assert pacer.ready_in() == pytest.approx(1.0)
    assert pacer.acquire() == pytest.approx(1.0)  # a spacing after 101.3, not after 101.0
    assert clock.now == pytest.approx(102.3)


def test_bytes_leaving_after_the_noted_departure_push_the_next_slot() -> None:
    """The thread is held up between taking its slot and writing the request: the next
    request keeps a spacing behind the moment the bytes left, not behind the slot."""
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()  # noted at 100.0
    clock.now = 100.25
    pacer.sent()  # ... but the request only started to leave at 100.25
    assert pacer.acquire() == pytest.approx(1.0)  # waits until 101.25, not 101.0
    assert clock.now == pytest.approx(101.25)
    pacer.sent()  # sent at once: nothing changes
    clock.now = 101.5
    assert pacer.ready_in() == pytest.approx(0.75)


def test_a_reserved_slot_waits_for_a_late_departure_before_it() -> None:
    """Two threads' slots, 101.0 and 102.0: the first wakes 0.6 s late, so the second,
    on time, waits until a spacing after that departure instead of leaving on its slot."""
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()  # leaves at 100.0
    assert [pacer.reserve(), pacer.reserve()] == pytest.approx([1.0, 2.0])
    clock.now = 101.6
    assert pacer._depart() == 0.0  # the first leaves late
    clock.now = 102.0
    assert pacer._depart() == pytest.approx(0.6)  # the second must wait ...
    clock.now = 102.6
    assert pacer._depart() == 0.0  # ... and then leaves
    assert pacer.ready_in() == pytest.approx(1.0)


def test_429_holds_starts_for_retry_after_and_widens(caplog: pytest.LogCaptureFixture) -> None:
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()
    pacer.acquire()
    with caplog.at_level(logging.WARNING, logger="odbridge.api"):
        pacer.throttled(retry_after=4.0)
        pacer.throttled(retry_after=4.0)
    assert pacer.interval == pytest.approx(1.15)  # a step of 5%, then one of 10%
    assert len([r for r in caplog.records if "throttled" in r.getMessage()]) == 1
    before = clock.now
    pacer.acquire()
    assert clock.now - before == pytest.approx(4.0)


def test_widening_is_capped() -> None:
    pacer, _ = fake_pacer(1.0)
    pacer.acquire()
    pacer.acquire()
    for _ in range(20):
        pacer.throttled(retry_after=0)
    assert pacer.interval == pytest.approx(pacing.MAX_WIDEN)
    assert pacer.base_interval == 1.0


def test_a_429_on_the_first_request_does_not_widen() -> None:
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()
    pacer.throttled(retry_after=2.0)
    assert pacer.interval == 1.0
    before = clock.now
    pacer.acquire()
    assert clock.now - before == pytest.approx(2.0)


def test_429_without_retry_after_waits_one_interval() -> None:
    pacer, clock = fake_pacer(1.0, margin=0.0)
    pacer.acquire()
    clock.now += 5
    pacer.throttled()
    assert pacer.acquire() == pytest.approx(1.0)


def test_unthrottled_pacer_ignores_429() -> None:
    pacer, _clock = fake_pacer(0.0)
    pacer.acquire()
    pacer.throttled(retry_after=10)
    assert pacer.acquire() == 0.0


def test_registry_shares_a_pacer_per_customer_key_and_server() -> None:
    first = pacer_for("cust-A", 1.0, "api.example")
    assert pacer_for(SecretStr("cust-A"), 1.0, "api.example") is first
    assert pacer_for("cust-B", 1.0, "api.example") is not first
    assert pacer_for("cust-A", 1.0, "other:1") is not first
    assert pacer_for("cust-A", 0.0, "api.example") is not first


def test_registry_follows_the_newest_setting_and_never_stores_the_key() -> None:
    first = pacer_for("cust-SECRET-1", 1.0)
    first.acquire()
    first.acquire()
    first.throttled(retry_after=0)
    assert pacer_for("cust-SECRET-1", 1.0).interval == 1.05  # same base: widening kept
    assert pacer_for("cust-SECRET-1", 0.5) is first
    assert (first.base_interval, first.interval) == (0.5, 0.5)
    assert all("cust-SECRET-1" not in key for key in pacing._registry)


def test_waited_time_is_accounted() -> None:
    pacer, _ = fake_pacer(0.5, margin=0.0)
    for _ in range(3):
        pacer.acquire()
    assert pacer.waited == pytest.approx(1.0)


def test_margin_follows_the_observed_jitter_and_comes_back() -> None:
    pacer, _ = fake_pacer(1.0)
    steady = pacer.margin
    for latency in [0.09, 0.11] * 10:  # answers that vary by 20 ms
        pacer.observe(latency)
    assert pacer.margin > steady + 0.02  # about four mean deviations
    for latency in [0.0, 2.0] * 10:  # wild swings: capped at a tenth of the interval
        pacer.observe(latency)
    assert pacer.margin == pytest.approx(safety_margin(1.0) + pacing.MAX_JITTER_SHARE * 1.0)
    short, _ = fake_pacer(0.1)
    for latency in [0.0, 2.0] * 10:  # ... or 50 ms for short intervals
        short.observe(latency)
    assert short.margin == pytest.approx(safety_margin(0.1) + pacing.MAX_JITTER_FLOOR)
    for _ in range(60):
        pacer.observe(0.1)
    assert pacer.margin < steady + 0.005


def test_an_answer_slower_than_usual_holds_the_next_start_by_the_difference() -> None:
    """The server was busy: it may have taken the request up 0.3 s late, and it measures
    the next request from then."""
    pacer, clock = fake_pacer(1.0, margin=0.0)
    for _ in range(3):
        sent = clock.now
        pacer.acquire()
        pacer.observe(0.1, sent_at=sent)  # the usual answer time
    sent = clock.now
    pacer.acquire()  # leaves at `sent` + 1.0 ...
    sent = clock.now
    clock.now += 0.4
    pacer.observe(0.4, sent_at=sent)  # ... and is answered 0.3 s slower than usual
    assert pacer.ready_in() == pytest.approx(0.9)  # until sent + 0.3 + 1.0
    clock.now = sent + 1.3
    pacer.observe(0.1, sent_at=clock.now - 0.1)  # an answer as usual holds nothing more
    assert pacer.ready_in() == pytest.approx(0.0)


def test_a_fixed_margin_ignores_jitter() -> None:
    pacer, _ = fake_pacer(1.0, margin=0.0)
    for latency in [0.0, 1.0] * 5:
        pacer.observe(latency)
    assert pacer.spacing == 1.0


def test_widening_after_a_429_comes_back_after_clean_requests() -> None:
    pacer, _ = fake_pacer(1.0, margin=0.0)
    pacer.acquire()
    pacer.acquire()
    pacer.throttled(retry_after=0)
    assert pacer.interval == pytest.approx(1.05)
    for _ in range(pacing.RECOVER_AFTER):
        pacer.acquire()
    assert pacer.interval == pytest.approx(1.025)
    for _ in range(pacing.RECOVER_AFTER * 10):
        pacer.acquire()
    assert pacer.interval == 1.0
    assert pacer.base_interval == 1.0


def test_a_429_right_after_narrowing_keeps_the_widening() -> None:
    pacer, _ = fake_pacer(1.0, margin=0.0)
    pacer.acquire()
    pacer.acquire()
    for _ in range(3):
        pacer.throttled(retry_after=0)  # 5% + 10% + 20%
    assert pacer.interval == pytest.approx(1.35)
    for _ in range(pacing.RECOVER_AFTER):
        pacer.acquire()
    assert pacer.interval == pytest.approx(1.175)  # narrowed by half...
    pacer.throttled(retry_after=0)  # ...and throttled at once: the rate is really slower
    assert pacer.interval > 1.35
    kept = pacer.interval
    for _ in range(pacing.RECOVER_AFTER * 3):
        pacer.acquire()
    assert pacer.interval == kept
