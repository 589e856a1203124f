"""A store the dashboard tests share: two synthetic practices, sync runs, users, odd rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from odbridge.store.schema import patients, sync_runs, sync_state
from odbridge.store.users import add_user
from tests.helpers import fill_store

ADMIN, ADMIN_PASSWORD = "alice", "alice-admin-password"
VIEWER, VIEWER_PASSWORD = "victor", "victor-viewer-password"
SECRET = b"dashboard-tests-secret-key-32-by"
EVIL_NAME = "<script>alert('x')</script>"


def insert_patient(engine: Engine, practice: str, pat_num: int, **fields: Any) -> None:
    """One hand-made patient row (the bookkeeping columns filled in)."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    row: dict[str, Any] = {
        "practice": practice,
        "pat_num": pat_num,
        "pat_status": "Patient",
        "guarantor": pat_num,
        "row_hash": f"test-{pat_num}",
        "first_seen_at": now,
        "last_synced_at": now,
    }
    row.update(fields)
    with engine.begin() as connection:
        connection.execute(insert(patients).values(**row))


def add_duplicate(engine: Engine, practice: str, of: int, pat_num: int) -> None:
    """A second row for patient ``of``: same names (in capitals) and birthdate."""
    with engine.connect() as connection:
        original = (
            connection.execute(
                select(patients.c.lname, patients.c.fname, patients.c.birthdate).where(
                    patients.c.practice == practice, patients.c.pat_num == of
                )
            )
            .mappings()
            .one()
        )
    insert_patient(
        engine,
        practice,
        pat_num,
        lname=str(original["lname"]).upper(),
        fname=f" {original['fname']}",
        birthdate=original["birthdate"],
        wireless_phone="555-0100",
        email="twice at example.com",
    )


def add_runs(engine: Engine) -> None:
    """An ok run for 'main', a failed one for 'north' (after an ok one)."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    base = {
        "resource": "patients",
        "pages": 31,
        "rows_received": 3000,
        "requests": 32,
        "error": None,
    }
    with engine.begin() as connection:
        connection.execute(
            insert(sync_runs),
            [
                {
                    **base,
                    "practice": "north",
                    "mode": "full",
                    "started_at": now - timedelta(hours=5),
                    "finished_at": now - timedelta(hours=5) + timedelta(minutes=3),
                    "outcome": "ok",
                },
                {
                    **base,
                    "practice": "main",
                    "mode": "full",
                    "started_at": now - timedelta(hours=1, minutes=5),
                    "finished_at": now - timedelta(hours=1),
                    "outcome": "ok",
                },
                {
                    **base,
                    "practice": "north",
                    "mode": "incremental",
                    "started_at": now - timedelta(minutes=20),
                    "finished_at": now - timedelta(minutes=19),
                    "outcome": "failed",
                    "error": "The eConnector of the practice is not running (HTTP 503).",
                },
            ],
        )
        connection.execute(
            insert(sync_state).values(
                practice="main",
                resource="patients",
                cursor="2025-01-01 10:00:00",
                runs_since_reconcile=1,
                updated_at=now,
            )
        )


def seed_store(engine: Engine, *, main: int = 3000, north: int = 600) -> None:
    """Two practices, sync runs, an admin and a viewer, and a few rows worth testing."""
    fill_store(engine, "main", main, seed=11)
    fill_store(engine, "north", north, seed=12)
    insert_patient(
        engine, "main", 900001, lname=EVIL_NAME, fname="Robert'); DROP TABLE patients;--"
    )
    insert_patient(
        engine,
        "main",
        900002,
        lname="Gone",
        fname="Patricia",
        missing_since=datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    )
    add_duplicate(engine, "main", 7, 900003)
    add_runs(engine)
    add_user(engine, ADMIN, ADMIN_PASSWORD, "admin")
    add_user(engine, VIEWER, VIEWER_PASSWORD, "viewer")


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = CSRF_INPUT.search(html)
    if found is None:
        raise AssertionError("no CSRF token in the page")
    return found.group(1)
