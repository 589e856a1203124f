"""A small cache for the dashboard's costly aggregates, keyed by the store's sync activity.

An entry is fresh while the store's data version (the latest sync run and its page count) is
the one it was computed at, and for at most ``max_age``. A stale entry is still served, and
recomputed once in a background thread, so that no page waits on a full scan after a sync
page lands; only a key never computed before is computed while the request waits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger("odbridge.dashboard")

T = TypeVar("T")


@dataclass
class _Entry:
    value: Any
    version: Hashable
    computed_at: float


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A value and whether it may be behind the store (being recomputed)."""

    value: T
    stale: bool
    computed_at: float


class AggregateCache:
    """Values by key, recomputed when the data version changes (see the module doc)."""

    def __init__(
        self,
        version: Callable[[], Hashable],
        *,
        max_age: float = 600.0,
        min_interval: float = 15.0,
        max_entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._version = version
        self.max_age = max_age
        self.min_interval = min_interval
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._running: dict[Hashable, Future[None]] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dash-cache")
            return self._executor

    def get(self, key: Hashable, compute: Callable[[], T]) -> Cached[T]:
        """The value for ``key``: cached, or computed now if there is none yet."""
        version = self._version()
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None:
            with self._lock:
                running = self._running.get(key)
                key_lock = self._key_locks.setdefault(key, threading.Lock())
            if running is not None:  # being computed in the background: wait for it
                with contextlib.suppress(Exception):  # then computed below instead
                    running.result(timeout=120)
                entry = self._entries.get(key)
                if entry is not None:
                    return Cached(entry.value, False, entry.computed_at)
            with key_lock:  # one computation per key, however many requests wait for it
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._store(key, compute(), version)
            return Cached(entry.value, False, entry.computed_at)
        fresh = entry.version == version and now - entry.computed_at < self.max_age
        if not fresh and now - entry.computed_at >= self.min_interval:
            self._refresh(key, compute, version)
        return Cached(entry.value, not fresh, entry.computed_at)

    def _store(self, key: Hashable, value: Any, version: Hashable) -> _Entry:
        entry = _Entry(value, version, self._clock())
        with self._lock:
            self._entries[key] = entry
            if len(self._entries) > self.max_entries:
                oldest = min(self._entries, key=lambda k: self._entries[k].computed_at)
                self._entries.pop(oldest, None)
        return entry

    def _refresh(self, key: Hashable, compute: Callable[[], Any], version: Hashable) -> None:
        with self._lock:
            if key in self._running:
                return

            def job() -> None:
                try:
                    self._store(key, compute(), version)
                except Exception:  # the old value stays; the next request tries again
                    log.exception("refreshing a dashboard figure failed")
                finally:
                    with self._lock:
                        self._running.pop(key, None)

            self._running[key] = self._pool().submit(job)

    def warm(self, key: Hashable, compute: Callable[[], Any]) -> None:
        """Compute ``key`` in the background if it is not cached yet."""
        if key not in self._entries:
            self._refresh(key, compute, self._version())

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for background computations (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = list(self._running.values())
            if not running:
                return
            for future in running:
                future.result(timeout=max(0.0, deadline - time.monotonic()))

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        """Stop the background thread (pending work is dropped)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
