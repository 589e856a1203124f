"""Offset paging with the one-row overlap check, against a listing that changes under it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from odbridge.api.paging import Page, RejectedRow
from odbridge.sync.drift import OverlapPager

pytestmark = pytest.mark.unit


class Listing:
    """Keys ordered ascending, served by Limit/Offset; ``before_fetch`` may change them."""

    def __init__(self, keys: list[int], bad: frozenset[int] = frozenset()) -> None:
        self.keys = keys
        self.bad = bad
        self.calls: list[tuple[int, int]] = []
        self.before_fetch: Callable[[int], None] = lambda call: None

    def fetch(self, offset: int, limit: int) -> Page[int]:
        self.before_fetch(len(self.calls))
        self.calls.append((offset, limit))
        rows = self.keys[offset : offset + limit]
        rejected = tuple(
            RejectedRow(offset + i, key, "Birthdate", "expected a date")
            for i, key in enumerate(rows)
            if key in self.bad
        )
        items = [key for key in rows if key not in self.bad]
        return Page(items, offset, limit, len(rows), rejected)


def read_all(listing: Listing, limit: int = 10, **kwargs: object) -> list[int]:
    pager = OverlapPager(listing.fetch, lambda key: key, limit=limit, **kwargs)  # type: ignore[arg-type]
    seen: list[int] = []
    for page in pager:
        seen.extend(page.items)
        seen.extend(r.key for r in page.rejected if r.key is not None)
    return seen


def test_a_quiet_listing_is_read_once_with_one_row_of_overlap() -> None:
    listing = Listing(list(range(1, 101)))
    assert read_all(listing) == list(range(1, 101))
    assert [offset for offset, _ in listing.calls] == [0, *range(9, 100, 9)]


def test_rows_deleted_behind_the_pass_do_not_make_it_skip_live_rows() -> None:
    listing = Listing(list(range(1, 201)))
    deleted = {3, 4, 5, 17, 40, 41}

    def delete_some(call: int) -> None:
        if call == 3:  # three pages read: rows before the next offset vanish
            listing.keys = [k for k in listing.keys if k not in deleted]

    listing.before_fetch = delete_some
    seen = read_all(listing)
    live = [k for k in range(1, 201) if k not in deleted]
    assert set(live) <= set(seen)
    assert len(seen) == len(set(seen))  # each row handed over once


def test_a_plain_offset_walk_would_have_skipped_them() -> None:
    listing = Listing(list(range(1, 201)))

    def delete_some(call: int) -> None:
        if call == 3:
            listing.keys = [k for k in listing.keys if k not in {3, 4, 5}]

    listing.before_fetch = delete_some
    seen = read_all(listing, ordered=False)
    assert {31, 32, 33} - set(seen)  # what the check is for


def test_more_deletions_than_a_page_step_back_further() -> None:
    listing = Listing(list(range(1, 301)))

    def delete_many(call: int) -> None:
        if call == 5:
            listing.keys = [k for k in listing.keys if not 2 <= k <= 40]

    listing.before_fetch = delete_many
    seen = read_all(listing)
    assert set(range(41, 301)) <= set(seen)


def test_deleting_the_last_row_read_is_noticed() -> None:
    listing = Listing(list(range(1, 51)))

    def delete_last_read(call: int) -> None:
        if call == 1:
            listing.keys = [k for k in listing.keys if k not in {9, 10}]

    listing.before_fetch = delete_last_read
    assert set(range(11, 51)) <= set(read_all(listing))


def test_rows_appearing_behind_the_pass_are_harmless() -> None:
    listing = Listing([k * 2 for k in range(1, 60)])

    def undelete(call: int) -> None:
        if call == 2:
            listing.keys = sorted([*listing.keys, 3, 5, 7])

    listing.before_fetch = undelete
    seen = read_all(listing)
    assert set(range(2, 120, 2)) <= set(seen)
    assert len(seen) == len(set(seen))


def test_a_resumed_pass_checks_its_first_page_too() -> None:
    listing = Listing([k for k in range(1, 101) if k not in {5, 6, 7}])
    # the pass stopped after 30 rows (keys 1..30) before 5, 6 and 7 were deleted
    seen = read_all(listing, offset=30, last_key=30)
    assert set(range(31, 101)) <= set(seen)
    assert min(seen) > 30  # nothing before the resume point is handed over again


def test_rejected_rows_count_as_read_and_keep_their_place() -> None:
    listing = Listing(list(range(1, 31)), bad=frozenset({10, 11, 25}))
    pager = OverlapPager(listing.fetch, lambda key: key, limit=10)
    items: list[int] = []
    rejected: list[int | None] = []
    for page in pager:
        items.extend(page.items)
        rejected.extend(r.key for r in page.rejected)
    assert rejected == [10, 11, 25]
    assert items == [k for k in range(1, 31) if k not in {10, 11, 25}]
    assert pager.last_key == 30
