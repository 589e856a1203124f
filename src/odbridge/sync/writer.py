"""Write a resource's rows: idempotent upserts by key, pass marks, missing marks.

Rows are compared by a digest of their content: re-reading an unchanged row writes nothing.
Everything here runs inside the caller's transaction, so a page and its checkpoint commit
together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from odbridge.api.models import ApiModel
from odbridge.sync.resources import Resource, Row

__all__ = ["RowWriter", "Written"]

CHUNK = 500
"""Keys per statement (SQLite limits the parameters of one statement)."""


@dataclass(frozen=True)
class Written:
    """What an upsert changed."""

    inserted: int = 0
    updated: int = 0


class RowWriter:
    """Writes one practice's rows of one resource."""

    def __init__(self, store: Engine, practice: str, resource: Resource) -> None:
        self.practice = practice
        self.resource = resource
        self.table = resource.table
        self._key = self.table.c[resource.key]
        self._insert = postgresql.insert if store.dialect.name == "postgresql" else sqlite.insert

    def upsert(
        self,
        connection: Connection,
        models: Sequence[ApiModel],
        now: datetime,
        *,
        seen_pass: int | None,
    ) -> Written:
        """Insert new rows, update changed ones (clearing ``missing_since``), skip the rest;
        with ``seen_pass``, mark every row as returned by that pass."""
        rows: dict[Any, Row] = {}
        for model in models:
            row = self.resource.to_row(model)
            rows[row[self.resource.key]] = row  # a repeat within a page: keep the last
        if not rows:
            return Written()
        table, key = self.table, self._key
        existing = {
            found[0]: (found[1], found[2])
            for found in connection.execute(
                select(key, table.c.row_hash, table.c.missing_since).where(
                    table.c.practice == self.practice, key.in_(list(rows))
                )
            )
        }
        inserted = updated = 0
        writes: list[Row] = []
        for pk, row in rows.items():
            known = existing.get(pk)
            if known is not None and known[0] == row["row_hash"] and known[1] is None:
                continue
            if known is None:
                inserted += 1
            else:
                updated += 1
            writes.append(
                {
                    **row,
                    "practice": self.practice,
                    "first_seen_at": now,
                    "last_synced_at": now,
                    "missing_since": None,
                    "seen_pass": seen_pass,
                }
            )
        if writes:
            statement = self._insert(table)
            changing = {
                c.name: statement.excluded[c.name]
                for c in table.columns
                if c.name not in ("practice", self.resource.key, "first_seen_at")
            }
            if seen_pass is None:
                changing.pop("seen_pass")
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c.practice, key], set_=changing
                ),
                writes,
            )
        if seen_pass is not None:
            self.mark_seen(connection, list(rows), seen_pass)
        return Written(inserted, updated)

    def mark_seen(self, connection: Connection, keys: Collection[int], seen_pass: int) -> None:
        """Note that pass ``seen_pass`` returned these rows (so they are not unlisted)."""
        if keys:
            connection.execute(
                update(self.table)
                .where(self.table.c.practice == self.practice, self._key.in_(list(keys)))
                .values(seen_pass=seen_pass)
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
