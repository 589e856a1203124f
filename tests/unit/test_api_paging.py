"""Limit/Offset paging until a short page, with progress hooks."""

from __future__ import annotations

import pytest

from odbridge.api.paging import PageInfo, paginate

pytestmark = pytest.mark.unit


class FakeServer:
    """``rows`` items served by Limit/Offset, capping Limit at ``cap``."""

    def __init__(self, rows: int, cap: int = 10_000) -> None:
        self.rows = list(range(rows))
        self.cap = cap
        self.calls: list[tuple[int, int]] = []

    def fetch(self, offset: int, limit: int) -> list[int]:
        self.calls.append((offset, limit))
        return self.rows[offset : offset + min(limit, self.cap)]


@pytest.mark.parametrize(
    ("rows", "limit", "requests"),
    [(0, 100, 1), (1, 100, 1), (99, 100, 1), (100, 100, 2), (250, 100, 3), (300, 100, 4)],
)
def test_pages_until_a_short_page(rows: int, limit: int, requests: int) -> None:
    server = FakeServer(rows)
    got = [row for page in paginate(server.fetch, limit=limit) for row in page]
    assert got == server.rows
    assert len(server.calls) == requests
    assert [offset for offset, _ in server.calls] == [i * limit for i in range(requests)]


def test_hook_sees_every_page_including_the_empty_last_one() -> None:
    server = FakeServer(200)
    infos: list[PageInfo] = []
    pages = list(paginate(server.fetch, limit=100, on_page=infos.append))
    assert len(pages) == 2
    assert [(i.number, i.offset, i.rows, i.total_rows, i.last) for i in infos] == [
        (1, 0, 100, 100, False),
        (2, 100, 100, 200, False),
        (3, 200, 0, 200, True),
    ]


def test_a_server_capping_at_a_documented_cap_does_not_end_early() -> None:
    server = FakeServer(450, cap=100)
    got = [row for page in paginate(server.fetch, limit=1000) for row in page]
    assert got == server.rows
    assert server.calls == [(0, 1000), (100, 100), (200, 100), (300, 100), (400, 100)]


def test_exactly_a_cap_sized_remainder_costs_one_empty_request() -> None:
    server = FakeServer(100)
    assert sum(len(p) for p in paginate(server.fetch, limit=1000)) == 100
    assert server.calls == [(0, 1000), (100, 100)]


def test_starts_at_offset_and_is_lazy() -> None:
    server = FakeServer(500)
    pages = paginate(server.fetch, limit=100, offset=200)
    assert server.calls == []
    first = next(pages)
    assert first[0] == 200
    assert server.calls == [(200, 100)]
    assert sum(len(p) for p in pages) == 200


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(paginate(FakeServer(1).fetch, limit=0))
