"""Open the store: an engine from a URL, the file made private, the schema created or checked.

SQLite is the default (a file in the user's data directory, mode 0600, WAL journal);
``postgresql+psycopg://...`` selects PostgreSQL. The ``schema_version`` table makes an older
odbridge refuse a store written by a newer one instead of corrupting it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from odbridge.errors import OdbridgeError
from odbridge.private_files import path_findings
from odbridge.store import schema_visits
from odbridge.store.schema import (
    SCHEMA_VERSION,
    metadata,
    schema_version,
    user_practices,
    users,
)

DB_ENV = "ODBRIDGE_DB"

log = logging.getLogger("odbridge.store")


def _add_visit_tables(connection: Any) -> None:
    """2: the visit tables (appointments, procedures, recalls, reference tables).

    ``create_all`` has already made them (it adds missing tables); this only checks."""
    missing = [
        t.name
        for t in schema_visits.VISIT_TABLES
        if not connection.dialect.has_table(connection, t.name)
    ]
    if missing:  # pragma: no cover - create_all runs first
        raise StoreError(f"could not create the tables {', '.join(missing)}")


def _sync_v2_columns(connection: Any) -> None:
    """3: where an unfinished pass stopped (drift check), what reconcile confirmed and
    what was quarantined. The ``quarantine`` table itself is made by ``create_all`` (as are
    the whole tables when they did not exist yet: then their columns are there already)."""
    for table, column, kind in (
        ("sync_state", "full_last_key", "BIGINT"),
        ("sync_runs", "rows_confirmed", "INTEGER NOT NULL DEFAULT 0"),
        ("sync_runs", "rows_quarantined", "INTEGER NOT NULL DEFAULT 0"),
    ):
        present = {c["name"] for c in inspect(connection).get_columns(table)}
        if column not in present:
            connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _visit_covering_indexes(connection: Any) -> None:
    """4: the visit tables' indexes cover the dashboard's queries (a patient's visits, a
    day's appointments, production by day): the narrower ones of version 2 are rebuilt."""
    for table in (schema_visits.appointments, schema_visits.procedure_logs):
        for index in table.indexes:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
            index.create(connection)


def _add_access_tables(connection: Any) -> None:
    """5: sessions, per-user practices, and the patients each audit entry showed.

    ``create_all`` has made the tables; users from before keep seeing every practice."""
    existing = connection.execute(select(users.c.id)).scalars().all()
    if existing:
        connection.execute(
            user_practices.insert(), [{"user_id": uid, "practice": "*"} for uid in existing]
        )


def _kpi_covering_indexes(connection: Any) -> None:
    """6: planned treatment (its appointment and patient) and the recall figures (due,
    scheduled, disabled) are read from the procedures' and recalls' indexes alone."""
    wanted = {"ix_procedures_status_date", "ix_recalls_patient"}
    for table in (schema_visits.procedure_logs, schema_visits.recalls):
        for index in table.indexes:
            if index.name in wanted:
                connection.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
                index.create(connection)


def _drop_unused_patient_index(connection: Any) -> None:
    """7: ``ix_patients_stamp`` goes: no query reads patients by DateTStamp, and each index
    is paid for by every row a sync writes."""
    connection.exec_driver_sql("DROP INDEX IF EXISTS ix_patients_stamp")


MIGRATIONS: dict[int, Callable[[Any], None]] = {
    2: _add_visit_tables,
    3: _sync_v2_columns,
    4: _visit_covering_indexes,
    5: _add_access_tables,
    6: _kpi_covering_indexes,
    7: _drop_unused_patient_index,
}
"""version → function(connection) that upgrades a store from ``version - 1``."""


class StoreError(OdbridgeError):
    """The store cannot be opened or used; the message says why and what to do."""


def default_sqlite_path() -> Path:
    """``<user data dir>/odbridge/odbridge.sqlite``."""
    return Path(platformdirs.user_data_dir("odbridge", appauthor=False)) / "odbridge.sqlite"


_POSTGRESQL_SPELLINGS = ("postgres://", "postgresql://")
"""The libpq spellings of a PostgreSQL URL (``DATABASE_URL`` of many hosts), which
SQLAlchemy does not take as they are: they mean odbridge's driver, psycopg."""


def resolve_url(url: str | None = None) -> str:
    """The store URL: the argument, else ``ODBRIDGE_DB``, else the default SQLite file.
    ``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``."""
    chosen = url or os.environ.get(DB_ENV)
    if not chosen:
        return f"sqlite:///{default_sqlite_path()}"
    for spelling in _POSTGRESQL_SPELLINGS:
        if chosen.startswith(spelling):
            return "postgresql+psycopg://" + chosen.removeprefix(spelling)
    return chosen


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


def _prepare_sqlite_file(path: Path) -> None:
    """Create the file and its folder private to this user (0700 / 0600) before use, and
    warn when the folder is shared: whoever can change it can replace or remove the store
    (and its ``-wal`` file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(descriptor)
        os.chmod(path, 0o600)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the database file {path}: {exc.strerror}. "
            "Choose a writable place with --db sqlite:///PATH or ODBRIDGE_DB."
        ) from None
    for finding in path_findings(path, secret=True, companions=True):
        log.warning("the store %s holds patient data but %s", path, finding)


def describe_db_error(exc: BaseException) -> str:
    """A database error as one line without any row values, for messages and the run log.

    PostgreSQL's details can quote a whole row ("Failing row contains (...)"), and drivers
    may echo parameters: only the error class and the server's primary message are kept.
    """
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(orig).strip().splitlines() or [""])[0]
    text = text.split(" DETAIL:")[0].strip()
    return f"{type(orig).__name__}: {text}" if text else type(orig).__name__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 32 MiB of page cache (the default is 2 MiB): a sync's inserts into a large store's
    # indexes then find their pages in memory (about 10% less CPU per row at 100,000).
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def create_store_engine(url: str | None = None) -> Engine:
    """An engine for the store at ``url`` (see :func:`resolve_url`), schema ready."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError:
        raise StoreError(
            f"'{resolved}' is not a database URL. Use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DATABASE."
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"Unsupported database '{backend}': use SQLite or PostgreSQL.")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _prepare_sqlite_file(Path(parsed.database).expanduser())
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    try:
        # hide_parameters: an error must never carry a row's values (patient data) into a
        # message, a log or the run log.
        engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True, **kwargs)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreError(f"Cannot use {describe_url(resolved)}: {exc}") from None
    except ImportError as exc:  # a driver named in the URL that is not installed
        raise StoreError(
            f"Cannot use {describe_url(resolved)}: its database driver '{exc.name}' is not "
            "installed. Use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE."
        ) from None
    except SQLAlchemyError as exc:
        raise StoreError(f"Cannot use {describe_url(resolved)}: {describe_db_error(exc)}") from None
    event.listen(engine, "connect", _sqlite_pragmas if backend == "sqlite" else _postgresql_session)
    if ensure_schema(engine, describe_url(resolved)):
        from odbridge.store.views import create_views

        create_views(engine)  # a new store gets the reporting views at once
    return engine


def create_read_only_engine(url: str | None = None) -> Engine:
    """An engine that can only read the store at ``url``, which must exist (open it with
    :func:`create_store_engine` first): SQLite's file is opened read-only, PostgreSQL's
    sessions default to read-only transactions. For readers that must never write."""
    resolved = resolve_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").expanduser()
        if not parsed.database or parsed.database == ":memory:" or not path.is_file():
            raise StoreError(f"There is no store at {describe_url(resolved)}.")
        target = f"{path.resolve().as_uri()}?mode=ro"

        def connect() -> Any:
            connection = sqlite3.connect(target, uri=True, timeout=30, check_same_thread=False)
            connection.execute("PRAGMA query_only=ON")
            return connection

        return create_engine("sqlite://", creator=connect, hide_parameters=True)
    engine = create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "connect", _read_only_session)
    return engine


_CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"
"""psycopg prepares a statement run five times on a connection, and PostgreSQL may then keep
one generic plan for it, chosen without the values. Planned while a first load's table was
still empty, the sync's look-up of a page's stored rows (``key = ANY(keys)``) stayed a scan
of the whole practice: each page cost more than the one before (100,000 patients: 20.6 s,
about 12 of them in that look-up, against 9.5 s). A plan for each execution, made with its
values, costs a fraction of a millisecond."""


def _session_settings(dbapi_connection: Any, *statements: str) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    for statement in statements:
        cursor.execute(statement)
    cursor.close()
    dbapi_connection.autocommit = autocommit


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    _session_settings(dbapi_connection, _CUSTOM_PLANS)


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    _session_settings(
        dbapi_connection, _CUSTOM_PLANS, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    )


def ensure_schema(engine: Engine, where: str = "the store") -> bool:
    """Create missing tables, upgrade an older schema, refuse a newer one.

    True when the store was new (or upgraded), so views should be (re)made.
    """
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            found = connection.execute(select(schema_version.c.version)).scalars().all()
            current = max(found, default=None)
            if current is None:
                connection.execute(schema_version.insert().values(version=SCHEMA_VERSION))
                return True
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{where} was written by a newer odbridge (schema {current}; this one "
                    f"knows {SCHEMA_VERSION}). Upgrade odbridge; nothing was changed."
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](connection)
                connection.execute(schema_version.insert().values(version=version))
            return bool(current < SCHEMA_VERSION)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise StoreError(f"Cannot open {where}: {reason}") from None
    except SQLAlchemyError as exc:
        if type(getattr(exc, "orig", None)).__name__ == "InvalidSchemaName":
            raise StoreError(
                f"Cannot prepare {where}: its schema (the search_path in the URL) does not "
                "exist. Create it with CREATE SCHEMA, or fix the URL."
            ) from None
        raise StoreError(f"Cannot prepare {where}: {describe_db_error(exc)}") from None
