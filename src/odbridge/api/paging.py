"""Limit/Offset paging: fetch pages until one holds fewer rows than asked for.

Responses are bare JSON arrays without a total, so a short page is the only end marker.
A server that caps ``Limit`` below what was asked returns short pages too; to tell the two
apart, a short page whose length is a documented cap (100, 1,000, 10,000) is treated as
"maybe capped": paging continues with that length as the limit, which costs one empty
request if it really was the end. The client also clamps its page size to the mode's cap,
so this only matters against an unexpected server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["KNOWN_CAPS", "Page", "PageHook", "PageInfo", "RejectedRow", "paginate"]

log = logging.getLogger("odbridge.api")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

KNOWN_CAPS = frozenset({100, 1000, 10_000})
"""Page caps Open Dental documents; a short page of exactly this size may be a capped one."""


@dataclass(frozen=True)
class PageInfo:
    """Progress after one page request: for progress bars and run logs."""

    number: int
    """1-based count of pages requested in this iteration."""
    offset: int
    limit: int
    rows: int
    """Rows in this page."""
    total_rows: int
    """Rows so far in this iteration, this page included."""
    last: bool
    """True when no page follows."""


PageHook = Callable[[PageInfo], None]
"""Called after every page request, empty last pages included."""


def paginate(
    fetch: Callable[[int, int], Sequence[T]],
    *,
    limit: int,
    offset: int = 0,
    on_page: PageHook | None = None,
    caps: frozenset[int] = KNOWN_CAPS,
) -> Iterator[Sequence[T]]:
    """Yield each non-empty page of ``fetch(offset, limit)`` until a short page.

    Lazy: a page is requested only when the previous one has been consumed.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    number = 0
    total = 0
    while True:
        rows = fetch(offset, limit)
        number += 1
        total += len(rows)
        asked = limit
        maybe_capped = 0 < len(rows) < limit and len(rows) in caps
        if maybe_capped:
            log.debug(
                "page of %d rows, asked %d: maybe capped; checking for more", len(rows), limit
            )
            limit = len(rows)
        last = len(rows) < asked and not maybe_capped
        if on_page is not None:
            on_page(PageInfo(number, offset, asked, len(rows), total, last))
        offset += len(rows)
        if rows:
            yield rows
        if last:
            return


@dataclass(frozen=True)
class RejectedRow:
    """A row of a page that did not validate: where it was, its key, the field and why.

    Never the value: it may be patient data.
    """

    position: int
    """Its place in the listing (the request's Offset plus its index in the answer)."""
    key: int | None
    """Its primary key (PatNum for patients) when that much could be read."""
    field: str | None
    problem: str


@dataclass(frozen=True)
class Page(Generic[T_co]):
    """One answer of a Limit/Offset listing, validated row by row.

    ``items`` are the rows that validated, ``rejected`` those that did not; ``received``
    counts both (it is what moves ``Offset``). ``server_time`` is the server's clock when
    it answered (``serverDateTime``), when the endpoint sends one.
    """

    items: Sequence[T_co]
    offset: int
    limit: int
    received: int
    rejected: tuple[RejectedRow, ...] = ()
    server_time: datetime | None = None
    note: str = ""
    """Why the page is empty when the server answered "not found" for a list (404)."""

    @property
    def is_last(self) -> bool:
        """True when the answer held fewer rows than asked for (no page follows)."""
        return self.received < self.limit
