"""What every tool shares: the store it reads, JSON-ready values, and bounded pages."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Engine

from odbridge.dashboard.cache import AggregateCache
from odbridge.dashboard.queries import Practices, data_version
from odbridge.mcp.deid import SafeHarbor

T = TypeVar("T")

MAX_PER_PAGE = 100
"""The most rows any tool returns in one call."""

Row = dict[str, Any]


@dataclass(frozen=True)
class ToolEnv:
    """The store the tools read (``reader``, opened read-only where the database allows) and
    the one audit entries go to (``writer``), plus the de-identification, if on.

    Costly aggregates (the overview, data quality, visit figures and worklists) are cached
    with the dashboard's cache: recomputed when a sync changes the store, served meanwhile.
    """

    reader: Engine
    writer: Engine
    harbor: SafeHarbor | None = None
    today: Callable[[], date] = date.today
    sync_every: timedelta | None = None
    cache: AggregateCache = field(init=False)

    def __post_init__(self) -> None:
        reader = self.reader
        object.__setattr__(self, "cache", AggregateCache(lambda: data_version(reader)))

    @property
    def deidentified(self) -> bool:
        return self.harbor is not None

    def cached(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
        """The value for ``key`` and whether it may be behind the store (being recomputed)."""
        found = self.cache.get(key, compute)
        return found.value, found.stale

    def close(self) -> None:
        """Stop the cache's thread and close the connections."""
        self.cache.close()
        self.reader.dispose()
        self.writer.dispose()


def scope_key(practices: Practices) -> Hashable:
    """A cache key for the practices a call covers."""
    if practices is None or isinstance(practices, str):
        return practices
    return frozenset(practices)


def plain(value: Any) -> Any:
    """A store value as JSON: dates in ISO form, money as a number of cents-exact decimals."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def plain_row(row: Row, drop: Sequence[str] = ()) -> Row:
    return {key: plain(value) for key, value in row.items() if key not in drop}


def paging(total: int, page: int, per_page: int, returned: int) -> Row:
    """How a page sits in the whole: ``truncated`` is true when more rows match than shown."""
    pages = max(1, math.ceil(total / per_page)) if per_page else 1
    more = page < pages
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": pages,
        "returned": returned,
        "truncated": returned < total,
        "next_page": page + 1 if more else None,
    }


def clamp_page(page: int, per_page: int) -> tuple[int, int]:
    """A page number of at least 1 and a page size between 1 and :data:`MAX_PER_PAGE`."""
    return max(1, page), max(1, min(MAX_PER_PAGE, per_page))
