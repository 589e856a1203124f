"""Offset paging that notices when the rows moved under it (Offset drift).

``patients/Simple`` is ordered by PatNum and paged by ``Offset``. When a patient leaves
the listing while a pass pages through it (set to Deleted, which Simple no longer returns),
every later row moves one place up, and a plain ``Offset`` walk skips one live patient per
deletion. So each page after the first starts one row early: that first row must be the
last one already read (or an earlier key). If it is a later key, rows vanished before it;
the pager steps back (a page, then twice as far) until it finds a row it already read, and
goes on from there. Re-read rows are not rewritten (their digest is unchanged); the check
costs about one row per page, and one request per drift it finds.

Listings that are not ordered by key (``ordered=False``) are paged plainly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from odbridge.api.paging import KNOWN_CAPS, Page, RejectedRow

__all__ = ["OverlapPager", "PassPage"]

log = logging.getLogger("odbridge.sync")

M = TypeVar("M")


@dataclass(frozen=True)
class PassPage(Generic[M]):
    """The new rows of one page of a pass, and where the pass stands after it."""

    items: list[M]
    """Rows that validated and were not read before in this pass."""
    rejected: tuple[RejectedRow, ...]
    """Rows that did not validate, not read before in this pass."""
    server_time: datetime | None
    offset: int
    """Rows of the listing up to and including this page: where the next page starts."""
    last_key: int | None
    """The largest key read so far in this pass."""
    requests: int
    """Requests this page took (more than one when the pager stepped back)."""
    stepped_back: bool


def _all_items(page: Page[M]) -> bool:
    """Every row of the answer validated (the usual page): its items are its rows."""
    return not page.rejected and len(page.items) == page.received


def _keys_in_order(page: Page[M], key_of: Callable[[M], int]) -> list[int | None]:
    """The key of every row of the answer, in the server's order (None: unreadable)."""
    if _all_items(page):
        return list(map(key_of, page.items))
    rejected = {r.position: r.key for r in page.rejected}
    items = iter(page.items)
    keys: list[int | None] = []
    for position in range(page.offset, page.offset + page.received):
        keys.append(rejected[position] if position in rejected else key_of(next(items)))
    return keys


class OverlapPager(Generic[M]):
    """Pages through a listing from ``offset`` with the one-row overlap check.

    ``fetch(offset, limit)`` returns one :class:`Page`; ``key_of`` reads a row's key.
    ``last_key`` is the key of the row just before ``offset`` when resuming a pass.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], Page[M]],
        key_of: Callable[[M], int],
        *,
        limit: int,
        offset: int = 0,
        last_key: int | None = None,
        ordered: bool = True,
    ) -> None:
        if limit < 2:
            raise ValueError("the page size must be at least 2 for the overlap check")
        self.fetch = fetch
        self.key_of = key_of
        self.limit = limit
        self.offset = offset
        self.last_key = last_key
        self.ordered = ordered
        self.drifts = 0
        """How many times rows were found to have moved (each cost a step back)."""

    def _anchored(self, page: Page[M], keys: list[int | None], last_key: int) -> bool:
        if page.offset == 0:
            return True
        return bool(keys) and keys[0] is not None and keys[0] <= last_key

    def _read(self) -> tuple[Page[M], list[int | None], int, bool]:
        """The next page, stepped back as far as needed; its keys, requests, stepped back."""
        last_key = self.last_key
        check = self.ordered and last_key is not None and self.offset > 0
        start = self.offset - 1 if check else self.offset
        page = self.fetch(start, self.limit)
        keys = _keys_in_order(page, self.key_of)
        requests, step, stepped = 1, self.limit - 1, False
        while check and last_key is not None and not self._anchored(page, keys, last_key):
            if not stepped:
                self.drifts += 1
                log.warning(
                    "rows moved while paging (offset %d): some left the listing; stepping back",
                    start,
                )
            stepped = True
            start = max(0, start - step)
            step *= 2
            page = self.fetch(start, self.limit)
            keys = _keys_in_order(page, self.key_of)
            requests += 1
        return page, keys, requests, stepped

    def _fresh(
        self, page: Page[M], keys: list[int | None], before: int | None
    ) -> tuple[list[M], tuple[RejectedRow, ...]]:
        """The rows and rejected rows of a page not read before in this pass: every one when
        the listing is not ordered or nothing was read yet, else those with a later key (or
        none)."""
        if _all_items(page):
            if not self.ordered or before is None:
                return list(page.items), ()
            pairs = zip(page.items, keys, strict=True)
            return [item for item, key in pairs if key is None or key > before], ()
        fresh_positions = {
            page.offset + index
            for index, key in enumerate(keys)
            if not self.ordered or before is None or key is None or key > before
        }
        positions = [p for p in range(page.offset, page.offset + page.received)]
        rejected_at = {r.position for r in page.rejected}
        item_positions = [p for p in positions if p not in rejected_at]
        items = [
            item
            for item, position in zip(page.items, item_positions, strict=True)
            if position in fresh_positions
        ]
        rejected = tuple(r for r in page.rejected if r.position in fresh_positions)
        return items, rejected

    def __iter__(self) -> Iterator[PassPage[M]]:
        while True:
            page, keys, requests, stepped = self._read()
            before = self.last_key
            items, rejected = self._fresh(page, keys, before)
            known = [k for k in keys if k is not None]
            if known:
                self.last_key = max(known) if before is None else max(before, *known)
            self.offset = page.offset + page.received
            asked = self.limit
            maybe_capped = 0 < page.received < asked and page.received in KNOWN_CAPS
            if maybe_capped:
                self.limit = page.received
            yield PassPage(
                items,
                rejected,
                page.server_time,
                self.offset,
                self.last_key,
                requests,
                stepped,
            )
            if page.received < asked and not maybe_capped:
                return
