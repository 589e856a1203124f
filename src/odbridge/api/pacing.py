"""Request pacing: at most one request start per interval, per customer key.

Open Dental throttles each customer key, measuring start to start. A :class:`Pacer` hands
out start slots ``interval`` plus a safety margin apart; callers reserve a slot under a lock
and sleep outside it, so threads sharing a key queue fairly. What counts is when a request
really leaves, not its slot: a thread that wakes late (interpreter lock, a busy CPU) would
crowd the next, on-time request. So after its sleep a caller checks, under the lock, that the
last departure is a spacing behind (else it waits the rest), notes its own departure and pushes
the next slot to at least a spacing after it; when the request's bytes really start to leave
(the HTTP layer reports it), that moment becomes the departure, if it is later. Pacers live
in a process-wide registry keyed by a hash of the customer key (and the server), so two
clients of one practice share one budget (at the interval the newest client configured).

The margin follows the timing jitter the client observes: a request that leaves on time but
reaches the server late shortens the gap to the next one by that delay, so the margin grows
with the spread of recent response times (as TCP sizes its retransmission timer: smoothed
mean deviation, times four; capped at a tenth of the interval or 50 ms) and shrinks when the
spread does. An answer slower than usual (the fastest recent ones) holds the next start by
the difference: a server that took the request up late measures the next one from then. On
a 429 the pacer waits ``Retry-After`` and widens the interval in small steps (5% of the
interval, doubling while 429s keep coming); after a run of requests with none it halves the
widening again, unless a 429 came right after such a step (then the rate was simply set too
fast, and the widening stays).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from pydantic import SecretStr

__all__ = ["Pacer", "pacer_for", "reset_pacers", "safety_margin"]

log = logging.getLogger("odbridge.api")

MAX_WIDEN = 2.0
"""The interval never widens beyond twice the configured one."""
WIDEN_STEP = 0.05
"""The first widening after a 429, as a share of the interval; it doubles while 429s go on."""
RECOVER_AFTER = 50
"""Requests without a 429 after which the widening halves."""
JITTER_GAIN = 4.0
MAX_JITTER_SHARE = 0.1
MAX_JITTER_FLOOR = 0.05
"""The jitter's share of the margin stops at a tenth of the interval, or 50 ms if more."""
USUAL_RISE = 0.05
"""How fast the usual answer time follows slower answers (a share of the difference)."""
MAX_RETRY_AFTER = 300.0
DEPARTURE_SLACK = 1e-6
"""Seconds short of a spacing that a departure may be (clock rounding, not real time)."""


def safety_margin(interval: float) -> float:
    """The fixed part of the margin: 1% of the interval (at least 2 ms, at most 20 ms)."""
    if interval <= 0:
        return 0.0
    return max(0.002, min(0.01 * interval, 0.02))


class Pacer:
    """Spaces request starts ``interval`` seconds apart; thread-safe.

    ``clock`` and ``sleep`` are injectable for tests; a fixed ``margin`` turns the jitter
    tracking off. An interval of 0 never waits.
    """

    def __init__(
        self,
        interval: float,
        *,
        margin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if interval < 0:
            raise ValueError("interval must be >= 0")
        self.base_interval = interval
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start: float | None = None
        self._last_departure: float | None = None
        self._starts = 0
        self._warned = False
        self._widening = 0.0
        self._step = 0.0
        self._clean = 0
        self._recovered_at: int | None = None
        self._before_recovery = 0.0
        self._sticky = False
        self._mean_latency: float | None = None
        self._usual_latency = 0.0
        self._jitter = 0.0
        self.waited = 0.0
        """Total seconds callers spent waiting for a slot."""

    @property
    def interval(self) -> float:
        """The configured interval plus what 429s taught (seconds)."""
        return self.base_interval + self._widening if self.base_interval > 0 else 0.0

    @property
    def margin(self) -> float:
        """Seconds added to each interval: the fixed part plus the observed jitter's share."""
        if self.base_interval <= 0:
            return 0.0
        if self._margin is not None:
            return self._margin
        cap = max(MAX_JITTER_SHARE * self.base_interval, MAX_JITTER_FLOOR)
        learned = min(JITTER_GAIN * self._jitter, cap)
        return safety_margin(self.base_interval) + learned

    @property
    def spacing(self) -> float:
        """Seconds between two reserved starts: the interval plus the margin."""
        return self.interval + self.margin if self.base_interval > 0 else 0.0

    def ready_in(self) -> float:
        """Seconds until the next start slot is free (0: now); reserves nothing."""
        with self._lock:
            if self._next_start is None:
                return 0.0
            return max(0.0, self._next_start - self._clock())

    def reserve(self) -> float:
        """Take the next start slot; the seconds until it (0 if now)."""
        with self._lock:
            now = self._clock()
            start = now if self._next_start is None else max(now, self._next_start)
            self._next_start = start + self.spacing
            self._starts += 1
            self._clean += 1
            if self._clean >= RECOVER_AFTER and self._widening > 0 and not self._sticky:
                self._recover()
            return start - now

    def _recover(self) -> None:
        self._before_recovery = self._widening
        half = self._widening / 2
        self._widening = half if half >= 0.001 * self.base_interval else 0.0
        self._step = 0.0
        self._clean = 0
        self._recovered_at = self._starts

    def acquire(self) -> float:
        """Wait for the next start slot and note the departure; the seconds waited.

        Call it right before sending: the request is taken to leave when this returns.
        """
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
            with self._lock:
                self.waited += delay
        while (rest := self._depart()) > 0:
            self._sleep(rest)  # a late request left after our slot: keep a spacing behind it
            with self._lock:
                self.waited += rest
            delay += rest
        return delay

    def _depart(self) -> float:
        """Note a departure now, or the seconds still to wait (the last one left too late)."""
        if self.base_interval <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            spacing = self.spacing
            if self._last_departure is not None:
                rest = self._last_departure + spacing - now
                if rest > DEPARTURE_SLACK:
                    return rest
            self._last_departure = now
            after = now + spacing
            self._next_start = after if self._next_start is None else max(self._next_start, after)
            return 0.0

    def sent(self) -> None:
        """Note that a request's bytes are leaving now (the HTTP layer calls it when it
        starts writing): later than its noted departure when the thread was held up in
        between, and then the next request must keep a spacing behind this moment."""
        if self.base_interval <= 0:
            return
        with self._lock:
            now = self._clock()
            if self._last_departure is not None and now <= self._last_departure:
                return
            self._last_departure = now
            after = now + self.spacing
            self._next_start = after if self._next_start is None else max(self._next_start, after)

    def observe(self, latency: float, sent_at: float | None = None) -> None:
        """Note how long a request took (send to answer), to follow the timing jitter.

        With ``sent_at`` (when it left, on this pacer's clock), an answer slower than usual
        (the fastest recent answers) also holds the next start: the server may have taken
        the request up only that much later (a busy moment), and it measures the next one
        from then."""
        if latency < 0:
            return
        with self._lock:
            if self._mean_latency is None:
                self._mean_latency = self._usual_latency = latency
                return
            # the usual answer time: the fastest recent one (it rises slowly after a change)
            usual = self._usual_latency
            self._usual_latency = min(latency, usual + USUAL_RISE * (latency - usual))
            excess = latency - usual
            if sent_at is not None and excess > 0 and self.base_interval > 0:
                hold = sent_at + excess + self.spacing
                self._next_start = hold if self._next_start is None else max(self._next_start, hold)
            deviation = abs(latency - self._mean_latency)
            self._jitter = 0.75 * self._jitter + 0.25 * deviation
            self._mean_latency = 0.875 * self._mean_latency + 0.125 * latency

    def configure(self, interval: float) -> None:
        """Set the base interval (the newest client's setting wins; a widening learnt from
        429s is kept while the base stays the same)."""
        with self._lock:
            if interval != self.base_interval:
                self.base_interval = interval
                self._widening = 0.0
                self._step = 0.0
                self._sticky = False

    def throttled(self, retry_after: float | None = None) -> None:
        """Note a 429: hold every start until ``retry_after`` and widen the interval a step.

        An unthrottled pacer (interval 0) ignores it: the retry's own wait suffices.
        """
        if self.base_interval <= 0:
            return
        with self._lock:
            now = self._clock()
            wait = self.interval if retry_after is None else min(retry_after, MAX_RETRY_AFTER)
            self._next_start = max(self._next_start or now, now + max(wait, 0.0))
            if self._starts <= 1:
                return  # the first request meets a budget spent before us: nothing to learn
            if self._recovered_at is not None and self._starts - self._recovered_at <= 2:
                self._sticky = True  # narrowing again failed at once: the rate is too fast
                self._widening = max(self._widening, self._before_recovery)
            self._step = self._step * 2 if self._step else WIDEN_STEP * self.base_interval
            cap = self.base_interval * (MAX_WIDEN - 1)
            widened = min(self._widening + self._step, cap)
            self._clean = 0
            self._recovered_at = None
            if widened <= self._widening:
                return
            self._widening = widened
            first = not self._warned
            self._warned = True
        if first:
            log.warning(
                "throttled by the server (HTTP 429); spacing requests %.3g s apart for now. "
                "Check the tier setting, or whether another program uses the same customer key.",
                self.interval,
            )


_registry: dict[str, Pacer] = {}
_registry_lock = threading.Lock()


def pacer_for(customer_key: str | SecretStr, interval: float, server: str = "") -> Pacer:
    """The shared pacer of a customer key on ``server``; a private no-op one for interval 0."""
    if interval <= 0:
        return Pacer(0.0)
    raw = customer_key.get_secret_value() if isinstance(customer_key, SecretStr) else customer_key
    digest = hashlib.sha256(f"{server}\0{raw}".encode()).hexdigest()
    with _registry_lock:
        pacer = _registry.get(digest)
        if pacer is None:
            pacer = _registry[digest] = Pacer(interval)
    pacer.configure(interval)
    return pacer


def reset_pacers() -> None:
    """Forget every shared pacer (for tests)."""
    with _registry_lock:
        _registry.clear()
