"""Login throttling (counted before the password is checked, per name and address, per
address, per account) and the cap on concurrent password hashes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0
    refused: int = 0
    audit_id: int | None = None


@dataclass(frozen=True)
class _Rule:
    free: int
    base_delay: float
    max_delay: float


@dataclass(frozen=True)
class Refusal:
    """A login attempt refused while locked: how long to wait, and the lock window it fell
    in (``count``: refusals in this window so far, ``audit_id``: its audit entry, if any)."""

    wait: float
    window: tuple[str, str]
    count: int
    audit_id: int | None


class LoginThrottle:
    """Slows down password guessing. Each attempt is counted *before* the password is
    checked (so concurrent guesses cannot all get in), on three keys:

    - (user name, address): ``free_attempts`` failures, then a lock of ``base_delay``
      seconds, doubling with each further failure up to ``max_delay``;
    - the address, over all names: ``address_factor`` times as many;
    - the user name, over all addresses: ``account_free`` failures, then a short lock
      (``account_delay`` doubling up to ``account_max_delay``) that slows a distributed
      guesser to a trickle without locking the real user out for long.

    A success clears the (name, address) key and takes its own attempt back from the
    others. The table holds at most ``max_entries`` keys: the oldest unlocked ones go first.
    """

    def __init__(
        self,
        *,
        free_attempts: int = 5,
        base_delay: float = 30.0,
        max_delay: float = 900.0,
        address_factor: int = 4,
        account_free: int = 10,
        account_delay: float = 5.0,
        account_max_delay: float = 60.0,
        forget_after: float = 86400.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pair_rule = _Rule(free_attempts, base_delay, max_delay)
        self.address_rule = _Rule(free_attempts * address_factor, base_delay, max_delay)
        self.account_rule = _Rule(account_free, account_delay, account_max_delay)
        self.forget_after = forget_after
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, str], _Rule]]:
        name = username.strip().lower()
        return [
            (("user", f"{name}|{address}"), self.pair_rule),
            (("addr", address), self.address_rule),
            (("acct", name), self.account_rule),
        ]

    def begin(self, username: str, address: str) -> Refusal | None:
        """Count an attempt before its password is checked; a :class:`Refusal` instead when
        a key is locked (the attempt is then not counted)."""
        now = self._clock()
        with self._lock:
            keys = self._keys(username, address)
            locked = [
                (entry.locked_until - now, key, entry)
                for key, _ in keys
                if (entry := self._entries.get(key)) is not None and entry.locked_until > now
            ]
            if locked:
                wait, key, entry = max(locked, key=lambda item: item[0])
                entry.refused += 1
                return Refusal(wait, key, entry.refused, entry.audit_id)
            for key, rule in keys:
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._entries[key] = _Failures()
                if now - entry.last > self.forget_after:
                    entry.count = 0
                entry.count += 1
                entry.last = now
                if entry.count >= rule.free:
                    delay = rule.base_delay * 2 ** (entry.count - rule.free)
                    entry.locked_until = now + min(rule.max_delay, delay)
                    entry.refused, entry.audit_id = 0, None  # a new lock window
            if len(self._entries) > self.max_entries:
                self._shrink(now)
        return None

    def remember_audit(self, window: tuple[str, str], audit_id: int) -> None:
        """The audit entry that stands for a lock window's refusals."""
        with self._lock:
            entry = self._entries.get(window)
            if entry is not None:
                entry.audit_id = audit_id

    def succeeded(self, username: str, address: str) -> None:
        """The password was right: clear (name, address), take the attempt back elsewhere."""
        with self._lock:
            keys = self._keys(username, address)
            self._entries.pop(keys[0][0], None)
            for key, rule in keys[1:]:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.count = max(0, entry.count - 1)
                    if entry.count < rule.free:
                        entry.locked_until = 0.0

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this name may try again from this address (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [
                entry.locked_until - now
                for key, _ in self._keys(username, address)
                if (entry := self._entries.get(key)) is not None
            ]
        return max([0.0, *waits])

    def __len__(self) -> int:
        return len(self._entries)

    def _shrink(self, now: float) -> None:
        """Forget old keys, then the oldest unlocked ones, then the oldest (under the lock)."""
        entries = {k: v for k, v in self._entries.items() if now - v.last < self.forget_after}
        target = int(self.max_entries * 0.9)
        if len(entries) > target:
            by_age = sorted(entries, key=lambda k: (entries[k].locked_until > now, entries[k].last))
            for key in by_age[: len(entries) - target]:
                del entries[key]
        self._entries = entries


class HashGate:
    """At most ``limit`` password hashes at once (argon2 takes 64 MiB each): a login beyond
    that is answered "busy" instead of queueing memory."""

    def __init__(self, limit: int = 4) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def try_enter(self) -> bool:
        """Take a slot if one is free (never waits)."""
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        """Give the slot back."""
        self._slots.release()
