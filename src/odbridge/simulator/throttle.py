"""Per-customer-key throttling, measured start to start, as Open Dental documents it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottleDecision:
    """``wait`` seconds before the request may run; ``rejected`` when it is refused instead."""

    wait: float
    rejected: bool

    @property
    def retry_after(self) -> int:
        """Whole seconds for a Retry-After header (at least 1)."""
        return max(1, math.ceil(self.wait))


class Throttle:
    """One request per ``interval`` seconds per key, measured start to start.

    In reject mode a request that comes early is refused and does not take the slot; in
    delay mode it is held until its slot. ``grace`` forgives a request that is early by less
    than network jitter (a guess: the real service's tolerance is not documented).
    """

    def __init__(
        self,
        interval: float,
        grace: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.grace = grace
        self._clock = clock
        self._lock = threading.Lock()
        self._next_start: dict[str, float] = {}

    def admit(self, key: str, delay: bool) -> ThrottleDecision:
        """Decide for a request of ``key`` arriving now."""
        if self.interval <= 0:
            return ThrottleDecision(0.0, False)
        with self._lock:
            now = self._clock()
            next_start = self._next_start.get(key, now)
            early = next_start - now
            if early <= self.grace:
                self._next_start[key] = now + self.interval
                return ThrottleDecision(0.0, False)
            if delay:
                self._next_start[key] = next_start + self.interval
                return ThrottleDecision(early, False)
            return ThrottleDecision(early, True)
