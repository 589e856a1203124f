"""Dashboard sessions in the store, so that a logout, a disabled user or a new password ends
a session for good, restarts included.

The cookie carries a random session id (signed by the dashboard); the store keeps only its
SHA-256, with the user, when it began and, once over, when and why it ended.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select, update

from odbridge.store.schema import sessions, users

ENDED_WHY = ("logout", "disabled", "password", "removed")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(engine: Engine, user_id: int, *, forget_after: timedelta) -> str:
    """A new session id for ``user_id`` (sessions older than ``forget_after`` are deleted)."""
    sid = secrets.token_urlsafe(24)
    now = _now()
    with engine.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.started_at < now - forget_after))
        connection.execute(
            sessions.insert().values(sid_hash=_digest(sid), user_id=user_id, started_at=now)
        )
    return sid


def session_is_open(engine: Engine, sid: str, user_id: int) -> bool:
    """True when the session exists, belongs to ``user_id``, has not ended, and the user is
    still enabled."""
    query = (
        select(sessions.c.sid_hash)
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.sid_hash == _digest(sid),
            sessions.c.user_id == user_id,
            sessions.c.ended_at.is_(None),
            users.c.disabled.is_(False),
        )
    )
    with engine.connect() as connection:
        return connection.execute(query).first() is not None


def end_session(engine: Engine, sid: str, why: str = "logout") -> None:
    """End one session (logout)."""
    with engine.begin() as connection:
        connection.execute(
            update(sessions)
            .where(sessions.c.sid_hash == _digest(sid), sessions.c.ended_at.is_(None))
            .values(ended_at=_now(), ended_why=why)
        )


def end_user_sessions(connection: Connection, user_id: int, why: str) -> int:
    """End every open session of a user (inside the caller's transaction); how many."""
    result = connection.execute(
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
        .values(ended_at=_now(), ended_why=why)
    )
    return int(result.rowcount or 0)


def open_sessions(engine: Engine, user_id: int) -> int:
    """How many sessions of the user are open."""
    query = select(sessions.c.sid_hash).where(
        sessions.c.user_id == user_id, sessions.c.ended_at.is_(None)
    )
    with engine.connect() as connection:
        return len(connection.execute(query).all())
