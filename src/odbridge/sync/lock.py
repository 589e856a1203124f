"""One sync per practice at a time, across processes and machines.

PostgreSQL: a session advisory lock keyed by the store's schema and the practice name, held on
a connection of its own (outside the store's pool) for the whole run; the holder names itself
in ``application_name`` so a second process can say who has it. SQLite: a lock file beside
the store (``filelock``), with a small ``.owner`` file saying who holds it. An in-memory
SQLite store has only this process, so a lock within the process is enough.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from odbridge.errors import OdbridgeError

__all__ = ["BUSY_EXIT_CODE", "PracticeBusy", "practice_lock"]

BUSY_EXIT_CODE = 75
"""``odbridge sync`` exits with this (EX_TEMPFAIL: try again later) when a practice is busy."""

POLL_SECONDS = 1.0
"""How often a waiting sync tries the lock again."""

log = logging.getLogger("odbridge.sync")

_APP_PREFIX = "odbridge sync"
_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


class PracticeBusy(OdbridgeError):  # noqa: N818 - an outcome: try again later
    """Another process is syncing this practice into the same store right now."""

    def __init__(self, practice: str, holder: str | None) -> None:
        self.practice = practice
        self.holder = holder
        who = holder or "another process"
        super().__init__(
            f"Practice '{practice}' is already being synced into this store by {who}; "
            "this sync did not start (use --wait to wait for it)."
        )


def holder_description(now: datetime | None = None) -> str:
    """Who this process is, for the other side's message: pid, host, since when (UTC)."""
    since = (now or datetime.now(UTC)).strftime("%H:%M UTC")
    return f"process {os.getpid()} on {socket.gethostname()}, started {since}"


@contextlib.contextmanager
def practice_lock(
    store: Engine,
    practice: str,
    *,
    wait: bool = False,
    stop: threading.Event | None = None,
) -> Iterator[None]:
    """Hold the practice's sync lock for the ``with`` block.

    Raises :class:`PracticeBusy` at once when another process holds it, or, with ``wait``,
    tries again every :data:`POLL_SECONDS` until it is free (or ``stop`` is set: then
    :class:`PracticeBusy` too).
    """
    lock = _lock_for(store, practice)
    try:
        waiting = False
        while not lock.try_acquire():
            if not wait or (stop is not None and stop.is_set()):
                raise PracticeBusy(practice, lock.holder())
            if not waiting:
                waiting = True
                log.warning(
                    "practice '%s' is being synced by %s; waiting for it to finish",
                    practice,
                    lock.holder() or "another process",
                )
            if stop is not None:
                stop.wait(POLL_SECONDS)
            else:
                threading.Event().wait(POLL_SECONDS)
        try:
            yield
        finally:
            lock.release()
    finally:
        lock.close()


def _lock_for(store: Engine, practice: str) -> _Lock:
    if store.dialect.name == "postgresql":
        return _AdvisoryLock(store, practice)
    database = store.url.database
    if not database or database == ":memory:":
        return _LocalLock(f"{id(store)}\0{practice}")
    return _FileLock(Path(database).expanduser(), practice)


class _Lock:
    def try_acquire(self) -> bool:
        raise NotImplementedError

    def holder(self) -> str | None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Free what the lock opened (after release, or when it was never acquired)."""


class _LocalLock(_Lock):
    def __init__(self, name: str) -> None:
        with _local_guard:
            self._lock = _local_locks.setdefault(name, threading.Lock())

    def try_acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def holder(self) -> str | None:
        return "another thread of this process"

    def release(self) -> None:
        self._lock.release()


def lock_file_path(store_path: Path, practice: str) -> Path:
    """The lock file of ``practice`` beside the SQLite store at ``store_path``."""
    digest = hashlib.sha256(practice.encode()).hexdigest()[:16]
    return store_path.with_name(f"{store_path.name}.sync-{digest}.lock")


class _FileLock(_Lock):
    def __init__(self, store_path: Path, practice: str) -> None:
        self.path = lock_file_path(store_path, practice)
        self.owner = self.path.with_name(self.path.name + ".owner")
        # thread_local=False: a lock taken by a thread is released by the same thread anyway
        self._lock = FileLock(self.path, mode=0o600, thread_local=False)

    def try_acquire(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        descriptor = os.open(self.owner, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(holder_description())
        return True

    def holder(self) -> str | None:
        try:
            return self.owner.read_text().strip() or None
        except OSError:
            return None

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.owner.unlink()
        self._lock.release()


def advisory_key(schema: str, practice: str) -> int:
    """The advisory lock's key: 63 bits of a digest of the store's schema and the practice
    (advisory locks are database-wide, so two schemas must not share keys)."""
    digest = hashlib.blake2b(f"odbridge-sync\0{schema}\0{practice}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") >> 1


class _AdvisoryLock(_Lock):
    def __init__(self, store: Engine, practice: str) -> None:
        # A connection of its own, outside the store's pool: held for the whole run, it must
        # not take a pooled connection the sync's threads need.
        self._engine = create_engine(store.url, poolclass=NullPool, hide_parameters=True)
        self._connection = self._engine.connect()
        schema = self._connection.execute(text("SELECT current_schema()")).scalar()
        self.key = advisory_key(str(schema), practice)
        self._connection.commit()

    def _one(self, sql: str, **params: Any) -> Any:
        value = self._connection.execute(text(sql), params).scalar()
        self._connection.commit()
        return value

    def try_acquire(self) -> bool:
        if not self._one("SELECT pg_try_advisory_lock(:key)", key=self.key):
            return False
        name = f"{_APP_PREFIX}: {holder_description()}"[:63]
        self._one("SELECT set_config('application_name', :name, false)", name=name)
        return True

    def holder(self) -> str | None:
        row = self._connection.execute(
            text(
                "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid::bigint = :high AND l.objid::bigint = :low"
            ),
            {"high": self.key >> 32, "low": self.key & 0xFFFFFFFF},
        ).first()
        self._connection.commit()
        if row is None:
            return None
        name, address, pid = row
        if name and str(name).startswith(_APP_PREFIX + ": "):
            return str(name)[len(_APP_PREFIX) + 2 :]
        return f"PostgreSQL session {pid} from {address or 'a local socket'}"

    def release(self) -> None:
        self._one("SELECT pg_advisory_unlock(:key)", key=self.key)

    def close(self) -> None:
        self._connection.close()
        self._engine.dispose()
