"""Users' practices, sessions and the patients each audit entry showed, in the store
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine

from odbridge.store import audit
from odbridge.store.db import create_store_engine
from odbridge.store.schema import schema_version, users
from odbridge.store.sessions import end_session, session_is_open, start_session
from odbridge.store.users import UserError, add_user, set_practices, user_practices_of

pytestmark = pytest.mark.integration


def test_users_from_before_practices_keep_seeing_every_practice(store_url: str) -> None:
    old = create_engine(store_url)
    with old.begin() as connection:
        users.create(connection)
        schema_version.create(connection)
        connection.execute(schema_version.insert().values(version=2))
        connection.execute(
            users.insert().values(
                username="old-admin",
                password_hash="x",
                role="admin",
                created_at=datetime.now(UTC).replace(tzinfo=None),
                disabled=False,
            )
        )
    old.dispose()
    engine = create_store_engine(store_url)
    try:
        assert user_practices_of(engine, "old-admin") is None  # every practice
        add_user(engine, "new-viewer", "a-long-password", practices=["north"])
        assert user_practices_of(engine, "New-Viewer") == frozenset({"north"})
        set_practices(engine, "new-viewer", [])
        assert user_practices_of(engine, "new-viewer") == frozenset()  # none, not all
        with pytest.raises(UserError, match="no enabled user"):
            user_practices_of(engine, "nobody")
    finally:
        engine.dispose()


def test_sessions_and_who_viewed_a_patient(store: Engine) -> None:
    user = add_user(store, "sam", "a-long-password", practices=["main"])
    sid = start_session(store, user.id, forget_after=timedelta(hours=12))
    assert session_is_open(store, sid, user.id)
    assert not session_is_open(store, sid, user.id + 1)  # another user's id
    assert not session_is_open(store, "forged", user.id)
    end_session(store, sid)
    assert not session_is_open(store, sid, user.id)

    listed = [("main", 5), ("main", 6)]
    first = audit.record(store, username="sam", action="view", what="patients", pat_nums=listed)
    audit.record(store, username="sam", action="view", what="patient", pat_nums=[("main", 5)])
    audit.record(store, username="eve", action="view", what="patient", pat_nums=[("north", 5)])
    viewed = audit.viewers_of(store, "main", 5)
    assert [(e.username, e.what) for e in viewed] == [("sam", "patient"), ("sam", "patients")]
    assert [e.what for e in audit.viewers_of(store, "main", 6)] == ["patients"]
    audit.finish(store, first, rows=2, detail="complete", pat_nums=[("main", 7)])
    assert [e.what for e in audit.viewers_of(store, "main", 7)] == ["patients"]
