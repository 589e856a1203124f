"""Write a resource's rows: idempotent upserts by key, pass marks, missing marks.

Rows are compared by a digest of their content: re-reading an unchanged row writes nothing.
Everything here runs inside the caller's transaction, so a page and its checkpoint commit
together.

A page's rows go to the database through the driver, not one SQLAlchemy parameter set at a
time (which cost more than parsing the page): one ``executemany`` of a prepared
``INSERT … ON CONFLICT DO UPDATE`` on SQLite, a ``COPY`` into a staging table and one
``INSERT … SELECT … ON CONFLICT DO UPDATE`` on PostgreSQL. Rows arrive as
:class:`~odbridge.sync.rowform.StoreRow` tuples, already in the form both drivers bind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from odbridge.sync.resources import Resource
from odbridge.sync.rowform import StoreRow, store_datetime

__all__ = ["RowWriter", "Written"]

CHUNK = 500
"""Keys per statement (SQLite limits the parameters of one statement)."""

# The statements, by database. Only identifiers of our own tables (quoted by the dialect)
# are put into them; every value is bound.
_SQLITE = {
    "existing": "SELECT {key}, row_hash, missing_since, seen_pass FROM {table} "
    "WHERE practice = ? AND {key} IN (SELECT value FROM json_each(?))",
    "seen": "UPDATE {table} SET seen_pass = ? "
    "WHERE practice = ? AND {key} IN (SELECT value FROM json_each(?))",
    "insert": "INSERT INTO {table} ({columns}) VALUES ({marks})",
    "any_row": "SELECT 1 FROM {table} LIMIT 1",
}
_POSTGRESQL = {
    "existing": "SELECT {key}, row_hash, missing_since, seen_pass FROM {table} "
    "WHERE practice = %s AND {key} = ANY(%s::bigint[])",
    "seen": "UPDATE {table} SET seen_pass = %s WHERE practice = %s AND {key} = ANY(%s::bigint[])",
    "make_stage": "CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS)",
    "copy": "COPY {stage} ({columns}) FROM STDIN",
    "insert": "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}",
    "clear_stage": "TRUNCATE {stage}",
}
_ON_CONFLICT = "ON CONFLICT (practice, {key}) DO UPDATE SET {sets}"


@dataclass(frozen=True)
class Written:
    """What an upsert changed."""

    inserted: int = 0
    updated: int = 0


class _Statements:
    """The driver-level SQL of one table on one database, and how to bind its values."""

    def __init__(self, store: Engine, table: Table, key: str) -> None:
        dialect = store.dialect
        self.postgresql = dialect.name == "postgresql"
        self.columns = [c.name for c in table.columns]
        quote = dialect.identifier_preparer.quote
        changing = [c for c in self.columns if c not in ("practice", key, "first_seen_at")]
        names = {
            "table": quote(table.name),
            "key": quote(key),
            "columns": ", ".join(quote(c) for c in self.columns),
            "marks": ", ".join("?" for _ in self.columns),
            "stage": quote(f"odbridge_stage_{table.name}"),
        }
        sql = _POSTGRESQL if self.postgresql else _SQLITE
        self.existing, self.seen, self.insert = (
            sql[n].format(**names) for n in ("existing", "seen", "insert")
        )
        self.make_stage, self.copy, self.clear_stage = (
            sql.get(n, "").format(**names) for n in ("make_stage", "copy", "clear_stage")
        )

        def on_conflict(keep_seen_pass: bool) -> str:
            chosen = [c for c in changing if not (keep_seen_pass and c == "seen_pass")]
            sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in chosen)
            return _ON_CONFLICT.format(key=names["key"], sets=sets)

        self.upsert = {keep: f"{self.insert} {on_conflict(keep)}" for keep in (False, True)}
        self.any_row = sql.get("any_row", "").format(**names)
        self.indexes = [quote(str(index.name)) for index in table.indexes]

    def keys(self, keys: Sequence[int]) -> str:
        """A list of keys as one text parameter: an array literal (PostgreSQL), JSON for
        SQLite's json_each (either is much cheaper to send than a bound list)."""
        listed = ",".join(map(str, map(int, keys)))
        return f"{{{listed}}}" if self.postgresql else f"[{listed}]"

    def binder(
        self, practice: str, now: datetime, seen_pass: int | None
    ) -> Callable[[StoreRow], tuple[Any, ...]]:
        """A function of a row: every column's value in the table's order (the row's
        fields, then this write's bookkeeping)."""
        stamp = store_datetime(now)

        def bind(row: StoreRow) -> tuple[Any, ...]:
            return (practice, *row.values, row.extra, row.digest, stamp, stamp, None, seen_pass)

        return bind


class RowWriter:
    """Writes one practice's rows of one resource."""

    def __init__(self, store: Engine, practice: str, resource: Resource) -> None:
        self.practice = practice
        self.resource = resource
        self.table = resource.table
        self._key = self.table.c[resource.key]
        self._sql = _Statements(store, self.table, resource.key)

    def upsert(
        self,
        connection: Connection,
        rows: Sequence[StoreRow],
        now: datetime,
        *,
        seen_pass: int | None,
    ) -> Written:
        """Insert new rows, update changed ones (clearing ``missing_since``), skip the rest;
        with ``seen_pass``, mark every row as returned by that pass."""
        latest = dict(zip(map(itemgetter(0), rows), rows, strict=True))  # a repeat: the last
        if not latest:
            return Written()
        sql = self._sql
        existing = {
            found[0]: (found[1], found[2], found[3])
            for found in connection.exec_driver_sql(
                sql.existing, (self.practice, sql.keys(list(latest)))
            )
        }
        bind = sql.binder(self.practice, now, seen_pass)
        keep_seen_pass = seen_pass is None
        if not existing:  # all new (a first load's pages): no row to compare
            self._write(connection, list(map(bind, latest.values())), keep_seen_pass=keep_seen_pass)
            return Written(len(latest), 0)
        inserted = updated = 0
        writes: list[tuple[Any, ...]] = []
        unmarked: list[int] = []
        for key, row in latest.items():
            known = existing.get(key)
            if known is not None and known[0] == row.digest and known[1] is None:
                if seen_pass is not None and known[2] != seen_pass:
                    unmarked.append(key)
                continue
            if known is None:
                inserted += 1
            else:
                updated += 1
            writes.append(bind(row))
        if writes:
            self._write(connection, writes, keep_seen_pass=keep_seen_pass)
        if unmarked and seen_pass is not None:
            self.mark_seen(connection, unmarked, seen_pass)
        return Written(inserted, updated)

    def _write(
        self, connection: Connection, writes: list[tuple[Any, ...]], *, keep_seen_pass: bool
    ) -> None:
        sql = self._sql
        if not sql.postgresql:
            connection.exec_driver_sql(sql.upsert[keep_seen_pass], writes)
            return
        driver_error = connection.dialect.loaded_dbapi.Error
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql.make_stage)
            with cursor.copy(sql.copy) as copy:
                for values in writes:
                    copy.write_row(values)
            cursor.execute(sql.upsert[keep_seen_pass])
            cursor.execute(sql.clear_stage)
        except driver_error as exc:
            # The driver's own error, as SQLAlchemy would raise it (parameters hidden), so a
            # refused page is reported like any other store error, without its rows.
            raise DBAPIError.instance(
                sql.copy, None, exc, driver_error, hide_parameters=True
            ) from exc
        finally:
            cursor.close()

    def defer_indexes(self, connection: Connection) -> bool:
        """Before a full pass on SQLite: when the table holds no row at all (a first load),
        drop its secondary indexes, so the load does not keep them up to date row by row;
        :meth:`restore_indexes` builds them once at the end, several times cheaper. Whether
        they were dropped.

        A pass killed before the end leaves them dropped; its resumed pass (or any later
        full pass) builds them. PostgreSQL keeps its indexes: there their upkeep is the
        server's work, not the syncing process's, and a group's workers load one table at
        once."""
        if self._sql.postgresql:
            return False
        if connection.exec_driver_sql(self._sql.any_row).first() is not None:
            return False
        for name in self._sql.indexes:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        return True

    def restore_indexes(self, connection: Connection) -> None:
        """Build the table's indexes that are missing (a first load's, see
        :meth:`defer_indexes`); those that exist are left as they are. Call it after a
        write in the same transaction: on SQLite the write lock then makes the look and the
        build one step."""
        if self._sql.postgresql:
            return  # never dropped there
        for index in self.table.indexes:
            index.create(connection, checkfirst=True)

    def mark_seen(self, connection: Connection, keys: Collection[int], seen_pass: int) -> None:
        """Note that pass ``seen_pass`` returned these rows (so they are not unlisted)."""
        if keys:
            connection.exec_driver_sql(
                self._sql.seen, (seen_pass, self.practice, self._sql.keys(list(keys)))
            )

    def unlisted(self, connection: Connection, seen_pass: int) -> list[int]:
        """Stored rows, not missing and not settled, that pass ``seen_pass`` did not return."""
        table = self.table
        query = select(self._key).where(
            table.c.practice == self.practice,
            table.c.missing_since.is_(None),
            (table.c.seen_pass.is_(None)) | (table.c.seen_pass != seen_pass),
        )
        if self.resource.settled is not None:
            query = query.where(~self.resource.settled(table))
        return [int(k) for k in connection.execute(query.order_by(self._key)).scalars()]

    def mark_missing(self, connection: Connection, keys: Collection[int], now: datetime) -> int:
        """Set ``missing_since`` on these rows (kept, never deleted); how many changed."""
        ordered, changed = list(keys), 0
        for start in range(0, len(ordered), CHUNK):
            result = connection.execute(
                update(self.table)
                .where(
                    self.table.c.practice == self.practice,
                    self._key.in_(ordered[start : start + CHUNK]),
                    self.table.c.missing_since.is_(None),
                )
                .values(missing_since=now)
            )
            changed += int(result.rowcount or 0)
        return changed
