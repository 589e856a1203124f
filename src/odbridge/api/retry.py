"""Which failures are worth retrying, and how long to wait between attempts (tenacity).

Transient: no answer or a dropped/truncated one (``httpx.TransportError`` and what the
client turns it into), 429, 500, 502, 503, 504, a 200 whose body is not whole JSON, and the
400s Open Dental documents as trouble at the office (its eConnector, its network: see
``OpenDentalError.office_outage``; the sync waits those out with long pauses on top).
Permanent: any other 400 (a bad request), 401, 404, 405, 410 and other 4xx.
Waits grow exponentially with jitter up to a cap; a 429's ``Retry-After`` is honoured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from odbridge.api.errors import ConnectionFailedError, OpenDentalError, RateLimitError

__all__ = [
    "PERMANENT_STATUSES",
    "TRANSIENT_STATUSES",
    "RetryNotice",
    "RetryPolicy",
    "classify_status",
    "is_transient",
    "parse_retry_after",
]

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
PERMANENT_STATUSES = frozenset({400, 401, 404, 405, 410})


def classify_status(status: int) -> Literal["ok", "transient", "permanent"]:
    """Whether an HTTP status is success, worth a retry, or final."""
    if 200 <= status < 300:
        return "ok"
    return "transient" if status in TRANSIENT_STATUSES else "permanent"


def is_transient(exc: BaseException) -> bool:
    """True if sending the same request again may succeed."""
    if isinstance(exc, OpenDentalError):
        return exc.retryable
    return isinstance(exc, httpx.TransportError)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


class _StopWhenRefused(stop_base):
    """Stop after ``attempts`` when the connection was refused (nothing listens there)."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        refused = isinstance(exc, ConnectionFailedError) and exc.refused
        return refused and retry_state.attempt_number >= self.attempts


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    ``max_attempts`` counts the first try. Waits start at ``initial`` seconds and double up
    to ``max_wait``, plus up to ``jitter`` random seconds; ``Retry-After`` (capped at
    ``max_retry_after``) replaces the wait after a 429. ``sleep`` is injectable for tests.
    """

    max_attempts: int = 6
    initial: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0
    refused_attempts: int = 2
    """Attempts when the connection is refused: nothing listens there, so a refused
    connection fails in seconds instead of backing off through every attempt."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def wait_seconds(self, retry_state: RetryCallState) -> float:
        """The pause before the next attempt (tenacity wait strategy)."""
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self.max_retry_after)
        return float(self._backoff(retry_state))

    @property
    def _backoff(self) -> wait_base:
        exponential = wait_exponential(multiplier=self.initial, max=self.max_wait)
        return exponential + wait_random(0, self.jitter) if self.jitter > 0 else exponential

    def retrying(
        self,
        *,
        on_retry: Callable[[RetryNotice], None] | None = None,
        ready_in: Callable[[], float] | None = None,
    ) -> Retrying:
        """A tenacity ``Retrying`` that re-raises the last error when attempts run out.

        ``ready_in()`` is how long until the next request may start anyway (the pacer's
        slot): the pause before a retry is the longer of it and the backoff, and
        ``on_retry`` is told that real pause (and which of the two set it) before it starts.
        """
        paced = False

        def wait(state: RetryCallState) -> float:
            nonlocal paced
            backoff = self.wait_seconds(state)
            slot = ready_in() if ready_in is not None else 0.0
            paced = slot > backoff
            return max(backoff, slot)

        def before_sleep(state: RetryCallState) -> None:
            if on_retry is None:
                return
            outcome = state.outcome
            on_retry(
                RetryNotice(
                    error=outcome.exception() if outcome is not None else None,
                    attempt=state.attempt_number + 1,
                    of=self.max_attempts,
                    wait=state.next_action.sleep if state.next_action else 0.0,
                    paced=paced,
                )
            )

        return Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.max_attempts) | _StopWhenRefused(self.refused_attempts),
            wait=wait,
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        )


@dataclass(frozen=True)
class RetryNotice:
    """A retry about to happen: after which error, which attempt, and the real pause."""

    error: BaseException | None
    attempt: int
    """The attempt about to be made (the first try is 1)."""
    of: int
    """The most attempts the policy makes."""
    wait: float
    """Seconds until it: the longer of the backoff and the pacer's next free slot."""
    paced: bool
    """True when the pacer's slot, not the backoff, set the pause."""

    def describe(self) -> str:
        """``retrying after HTTP 500 (attempt 2 of 6) in 0.98 s (…)``: the real wait."""
        error = self.error
        if isinstance(error, OpenDentalError) and error.status:
            reason = f"HTTP {error.status}"
        else:
            reason = type(error).__name__
        why = " (the rate limit's next free slot)" if self.paced else ""
        attempt = f"attempt {self.attempt} of {self.of}"
        return f"retrying after {reason} ({attempt}) in {self.wait:.2f} s{why}"


NO_RETRY = RetryPolicy(max_attempts=1)
"""A policy that sends each request once (probes, diagnostics)."""
