"""Procrastinate's schema in the store, created and upgraded by odbridge.

Procrastinate ships its whole schema (``schema.sql``) and one SQL file per change
(``sql/migrations/03.04.00_01_pre_….sql``: the version that introduced it, then its order),
but records nothing in the database. So odbridge keeps the names of the migrations a store
has in ``odbridge_queue_migrations``, beside the queue's tables: a new store gets the whole
schema and every migration of the installed Procrastinate recorded; ``odbridge queue
migrate`` applies the ones not recorded, in order, each in its own transaction with its
record. A queue schema made before this table existed (odbridge always installed
Procrastinate >= :data:`BASELINE`) is adopted as holding every migration older than it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from odbridge.errors import OdbridgeError
from odbridge.store.db import resolve_url

__all__ = [
    "BASELINE",
    "MigrationReport",
    "QueueError",
    "available_migrations",
    "conninfo",
    "ensure_queue_schema",
    "migrate_queue_schema",
    "migration_version",
]

TRACKING_TABLE = "odbridge_queue_migrations"
BASELINE = (3, 5, 0)
"""The oldest Procrastinate odbridge has required (pyproject): an untracked queue schema has
every migration introduced before it."""
_LOCK_KEY = 0x0D_B1_D6E0_0001  # serialises two `queue migrate` on one database
_NAME = re.compile(r"^(\d+)\.(\d+)\.(\d+)_\d+_")


class QueueError(OdbridgeError):
    """The queue cannot be used (not PostgreSQL, the database refused, schema behind)."""


def conninfo(url: str) -> str:
    """The store's SQLAlchemy URL as a libpq URI (``options`` such as search_path kept)."""
    try:
        parsed = make_url(resolve_url(url))
    except ArgumentError:
        raise QueueError(
            f"'{url}' is not a database URL: the queue needs a PostgreSQL store, use --db "
            "postgresql+psycopg://USER@HOST/DB."
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise QueueError(
            "The queue needs a PostgreSQL store: use --db postgresql+psycopg://USER@HOST/DB."
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def migration_version(name: str) -> tuple[int, int, int]:
    """``"03.04.00_50_post_x"`` → ``(3, 4, 0)``: the Procrastinate version that introduced it."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"not a Procrastinate migration name: {name}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def available_migrations() -> list[str]:
    """The installed Procrastinate's migrations, oldest first (names without ``.sql``)."""
    folder = Path(SchemaManager.get_migrations_path())
    return sorted(path.stem for path in folder.glob("*.sql"))


def _sql(name: str) -> str:
    return (Path(SchemaManager.get_migrations_path()) / f"{name}.sql").read_text("utf-8")


def parse_version(text: str) -> tuple[int, int, int]:
    """``"3.2"`` or ``"3.2.0"`` → ``(3, 2, 0)``; ValueError otherwise."""
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"'{text}' is not a version such as 3.4.0")
    numbers = [int(p) for p in parts] + [0] * (3 - len(parts))
    return numbers[0], numbers[1], numbers[2]


def _dotted(level: tuple[int, int, int]) -> str:
    return ".".join(str(n) for n in level)


@dataclass
class MigrationReport:
    """What :func:`migrate_queue_schema` found and did."""

    procrastinate: str
    """The installed Procrastinate's version."""
    created: bool = False
    adopted: bool = False
    """An existing queue schema without odbridge's record, recorded as :data:`BASELINE`."""
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    """Migrations still to apply (only when asked not to apply them)."""
    newest: str | None = None
    """The newest migration the store now has."""

    @property
    def level(self) -> str:
        """The Procrastinate version whose schema the store now has, e.g. ``"3.4.0"``."""
        return _dotted(migration_version(self.newest)) if self.newest else "none"

    def describe(self) -> str:
        """One paragraph for the CLI."""
        if self.created:
            what = "Queue schema created"
        elif self.applied:
            what = f"Queue schema upgraded: {len(self.applied)} migrations applied"
        elif self.pending:
            what = f"Queue schema behind: {len(self.pending)} migrations to apply"
        else:
            what = "Queue schema up to date"
        if self.adopted:
            what += " (an existing schema, recorded as Procrastinate's >= 3.5 schema)"
        if self.newest is None or self.newest != available_migrations()[-1]:
            where = (
                f"the store is at Procrastinate {self.level}'s schema (migration "
                f"{self.newest}); installed Procrastinate {self.procrastinate}."
            )
        else:  # the installed release's schema, whose newest change may be older than it
            where = (
                f"the store has the schema of the installed Procrastinate "
                f"{self.procrastinate}, whose newest change came with {self.level} "
                f"(migration {self.newest})."
            )
        lines = [f"{what}; {where}"]
        lines += [f"  applied {name}" for name in self.applied]
        lines += [f"  pending {name}" for name in self.pending]
        return "\n".join(lines)


@contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    try:
        connection = psycopg.connect(conninfo(url))
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__  # psycopg's lines as one
        raise QueueError(
            "Cannot connect to the queue's database: check the host, port and database in "
            f"--db (or ODBRIDGE_DB), and that PostgreSQL is running. ({reason})"
        ) from None
    with connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        connection.commit()
        try:
            yield connection
        except psycopg.errors.InvalidSchemaName:
            raise QueueError(
                "The store's schema does not exist (the search_path in the --db URL): "
                "create it with CREATE SCHEMA, or fix the URL."
            ) from None
        finally:
            connection.rollback()
            connection.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
            connection.commit()


def _exists(connection: psycopg.Connection[Any], table: str) -> bool:
    row = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    return row is not None and row[0] is not None


def _record(connection: psycopg.Connection[Any], names: list[str], installed: str) -> None:
    connection.cursor().executemany(
        "INSERT INTO odbridge_queue_migrations (migration, procrastinate) VALUES (%s, %s)",
        [(name, installed) for name in names],
    )


def migrate_queue_schema(
    url: str, *, apply: bool = True, up_to: tuple[int, int, int] | None = None
) -> MigrationReport:
    """Create the queue's schema, or bring it up to the installed Procrastinate's.

    ``apply=False`` creates a missing schema (and adopts an untracked one) but only reports
    pending migrations: workers use that, upgrades are an explicit ``queue migrate``.
    ``up_to`` stops at that Procrastinate version's schema (a new schema is then built from
    the migrations, not from ``schema.sql``)."""
    with _connect(url) as connection:
        return _migrate(connection, apply=apply, up_to=up_to)


def _migrate(
    connection: psycopg.Connection[Any], *, apply: bool, up_to: tuple[int, int, int] | None
) -> MigrationReport:
    installed = version("procrastinate")
    wanted = [m for m in available_migrations() if up_to is None or migration_version(m) <= up_to]
    report = MigrationReport(procrastinate=installed)
    building = False
    if not _exists(connection, TRACKING_TABLE):
        connection.execute(
            "CREATE TABLE odbridge_queue_migrations (migration text PRIMARY KEY, "
            "procrastinate text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        if _exists(connection, "procrastinate_jobs"):
            report.adopted = True
            _record(connection, [m for m in wanted if migration_version(m) < BASELINE], "-")
        elif up_to is None:
            connection.execute(SchemaManager.get_schema())
            _record(connection, wanted, installed)
            report.created = True
        else:  # from the first migration on, up to ``up_to``
            building = report.created = True
        connection.commit()
    rows = connection.execute("SELECT migration FROM odbridge_queue_migrations").fetchall()
    done = {str(row[0]) for row in rows}
    unknown = sorted(done - set(available_migrations()))
    if unknown:
        raise QueueError(
            f"The queue's schema has a migration this Procrastinate ({installed}) does not "
            f"know ({unknown[-1]}): it was upgraded by a newer odbridge. Upgrade odbridge "
            "on this machine to the version the other machines run."
        )
    pending = [m for m in wanted if m not in done]
    if apply or building:
        for name in pending:
            connection.execute(_sql(name))
            _record(connection, [name], installed)
            connection.commit()
            report.applied.append(name)
    else:
        report.pending = pending
    report.newest = max(done | set(report.applied), default=None)
    return report


def ensure_queue_schema(url: str, *, then: Callable[[], object] | None = None) -> MigrationReport:
    """Create the queue's schema when the store has none; refuse (:class:`QueueError`) when
    it is behind the installed Procrastinate: upgrading is ``odbridge queue migrate``, run
    once the old workers are stopped, never a side effect of starting one. ``then`` runs
    while the setup lock is still held (workers starting together prepare the store one
    after the other)."""
    with _connect(url) as connection:
        report = _migrate(connection, apply=False, up_to=None)
        if not report.pending and then is not None:
            then()
    if report.pending:
        raise QueueError(
            f"The queue's schema is at Procrastinate {report.level}'s, older than the installed "
            f"Procrastinate {report.procrastinate} ({len(report.pending)} migrations to "
            "apply). Stop the workers, run `odbridge queue migrate --db URL` once, then "
            "start them again."
        )
    return report
