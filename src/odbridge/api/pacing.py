"""Request pacing: at most one request start per interval, per customer key.

Open Dental throttles each customer key, measuring start to start. A :class:`Pacer` hands
out start slots ``interval`` (plus a small safety margin) apart; callers reserve a slot under
a lock and sleep outside it, so threads sharing a key queue fairly. Pacers live in a
process-wide registry keyed by a hash of the customer key (and the server), so two clients
of one practice share one budget (at the interval the newest client configured). On a 429
the pacer waits ``Retry-After`` and widens its interval a little (warned once, capped), in
case something else shares the key.
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

WIDEN_FACTOR = 1.25
MAX_WIDEN = 2.0
MAX_RETRY_AFTER = 300.0


def safety_margin(interval: float) -> float:
    """Extra seconds added to each interval: 1% (at least 2 ms, at most 20 ms)."""
    if interval <= 0:
        return 0.0
    return max(0.002, min(0.01 * interval, 0.02))


class Pacer:
    """Spaces request starts ``interval`` seconds apart; thread-safe.

    ``clock`` and ``sleep`` are injectable for tests. An interval of 0 never waits.
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
        self.interval = interval
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start: float | None = None
        self._starts = 0
        self._warned = False
        self.waited = 0.0
        """Total seconds callers spent waiting for a slot."""

    @property
    def spacing(self) -> float:
        """Seconds between two reserved starts: the interval plus the safety margin."""
        margin = safety_margin(self.interval) if self._margin is None else self._margin
        return self.interval + margin if self.interval > 0 else 0.0

    def reserve(self) -> float:
        """Take the next start slot; the seconds until it (0 if now)."""
        with self._lock:
            now = self._clock()
            start = now if self._next_start is None else max(now, self._next_start)
            self._next_start = start + self.spacing
            self._starts += 1
            return start - now

    def acquire(self) -> float:
        """Wait for the next start slot; the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
            with self._lock:
                self.waited += delay
        return delay

    def configure(self, interval: float) -> None:
        """Set the base interval (the newest client's setting wins; a widening learnt from
        429s is kept while the base stays the same)."""
        with self._lock:
            if interval != self.base_interval:
                self.base_interval = interval
                self.interval = interval

    def throttled(self, retry_after: float | None = None) -> None:
        """Note a 429: hold every start until ``retry_after`` and widen the interval.

        An unthrottled pacer (interval 0) ignores it: the retry's own wait suffices.
        """
        if self.interval <= 0:
            return
        with self._lock:
            now = self._clock()
            wait = self.interval if retry_after is None else min(retry_after, MAX_RETRY_AFTER)
            self._next_start = max(self._next_start or now, now + max(wait, 0.0))
            if self._starts <= 1:
                return  # the first request meets a budget spent before us: nothing to learn
            widened = min(self.interval * WIDEN_FACTOR, self.base_interval * MAX_WIDEN)
            if widened <= self.interval:
                return
            self.interval = widened
            first = not self._warned
            self._warned = True
        if first:
            log.warning(
                "throttled by the server (HTTP 429); slowing to %.3g s between requests. "
                "Check the tier setting, or whether another program uses the same customer key.",
                widened,
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
