"""Hold rows that failed validation, and release them once they validate.

A held row keeps its key, the field at fault and the reason; never its value (it may be
patient data). The stored copy of the row, if any, stays as it was: a bad new version does
not overwrite a good old one, and the row is not taken for deleted. Reads for status and
the dashboard are in :mod:`odbridge.store.quarantine`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from odbridge.api.paging import RejectedRow
from odbridge.store.schema import quarantine

__all__ = ["Quarantine"]

log = logging.getLogger("odbridge.sync")

PROBLEM_CHARS = 255


class Quarantine:
    """The quarantine of one practice's resource."""

    def __init__(self, store: Engine, practice: str, resource: str) -> None:
        self.store = store
        self.practice = practice
        self.resource = resource
        self._insert = postgresql.insert if store.dialect.name == "postgresql" else sqlite.insert
        self._held = select(quarantine.c.key).where(  # read with every page: built once
            quarantine.c.practice == practice, quarantine.c.resource == resource
        )

    def hold(self, connection: Connection, rows: Iterable[RejectedRow], now: datetime) -> int:
        """Hold (or hold again) the rejected rows that have a key; how many had one."""
        held = 0
        for row in rows:
            if row.key is None:
                log.warning(
                    "%s %s: a row at position %d failed (%s%s) and has no readable key; "
                    "it cannot be held and is counted only",
                    self.practice,
                    self.resource,
                    row.position,
                    f"{row.field}: " if row.field else "",
                    row.problem,
                )
                continue
            held += 1
            values = {
                "field": row.field,
                "problem": row.problem[:PROBLEM_CHARS],
                "last_seen_at": now,
            }
            statement = self._insert(quarantine).values(
                practice=self.practice,
                resource=self.resource,
                key=row.key,
                first_seen_at=now,
                attempts=1,
                **values,
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[quarantine.c.practice, quarantine.c.resource, quarantine.c.key],
                    set_={**values, "attempts": quarantine.c.attempts + 1},
                )
            )
            log.warning(
                "%s %s %d held in quarantine: %s%s",
                self.practice,
                self.resource,
                row.key,
                f"{row.field}: " if row.field else "",
                row.problem,
            )
        return held

    def release(self, connection: Connection, keys: Collection[int]) -> None:
        """Take rows out of quarantine (they validated, or are gone)."""
        if not keys:
            return
        # Few rows are ever held: read them, rather than send every key of a page.
        held = connection.execute(self._held).scalars()
        released = set(held).intersection(keys)
        if released:
            connection.execute(
                delete(quarantine).where(
                    quarantine.c.practice == self.practice,
                    quarantine.c.resource == self.resource,
                    quarantine.c.key.in_(sorted(released)),
                )
            )

    def keys(self, limit: int) -> list[int]:
        """The held keys, least recently tried first."""
        with self.store.connect() as connection:
            return [
                int(key)
                for key in connection.execute(
                    select(quarantine.c.key)
                    .where(
                        quarantine.c.practice == self.practice,
                        quarantine.c.resource == self.resource,
                    )
                    .order_by(quarantine.c.last_seen_at, quarantine.c.key)
                    .limit(limit)
                ).scalars()
            ]

    def touch(self, connection: Connection, key: int, now: datetime) -> None:
        """Record another failed attempt without changing the reason."""
        connection.execute(
            update(quarantine)
            .where(
                quarantine.c.practice == self.practice,
                quarantine.c.resource == self.resource,
                quarantine.c.key == key,
            )
            .values(last_seen_at=now, attempts=quarantine.c.attempts + 1)
        )
