"""Limit/Offset paging with one Page type: until a short page, caps, laziness, bad rows."""

from __future__ import annotations

import pytest

from odbridge.api.errors import ResponseFormatError
from odbridge.api.models import Patient
from odbridge.api.paging import Page, RejectedRow, parse_page

pytestmark = pytest.mark.unit


class FakeServer:
    """``rows`` items served by Limit/Offset, capping Limit at ``cap``."""

    def __init__(self, rows: int, cap: int = 10_000) -> None:
        self.rows = list(range(rows))
        self.cap = cap
        self.calls: list[tuple[int, int]] = []

    def fetch(self, offset: int, limit: int) -> Page[int]:
        self.calls.append((offset, limit))
        got = self.rows[offset : offset + min(limit, self.cap)]
        return Page(got, offset, limit, len(got), fetch=self.fetch)


@pytest.mark.parametrize(
    ("rows", "limit", "requests"),
    [(0, 100, 1), (1, 100, 1), (99, 100, 1), (100, 100, 2), (250, 100, 3), (300, 100, 4)],
)
def test_iterating_a_page_reads_until_a_short_page(rows: int, limit: int, requests: int) -> None:
    server = FakeServer(rows)
    assert list(server.fetch(0, limit)) == server.rows
    assert len(server.calls) == requests
    assert [offset for offset, _ in server.calls] == [i * limit for i in range(requests)]


def test_pages_walks_page_by_page_with_offsets() -> None:
    server = FakeServer(200)
    pages = list(server.fetch(0, 100).pages())
    assert [(p.offset, p.received, p.is_last) for p in pages] == [
        (0, 100, False),
        (100, 100, False),
        (200, 0, True),
    ]


def test_a_server_capping_at_a_documented_cap_does_not_end_early() -> None:
    server = FakeServer(450, cap=100)
    assert list(server.fetch(0, 1000)) == server.rows
    assert server.calls == [(0, 1000), (100, 100), (200, 100), (300, 100), (400, 100)]


def test_exactly_a_cap_sized_remainder_costs_one_empty_request() -> None:
    server = FakeServer(100)
    first = server.fetch(0, 1000)
    assert first.maybe_capped
    assert not first.is_last
    assert sum(len(p.items) for p in first.pages()) == 100
    assert server.calls == [(0, 1000), (100, 100)]


def test_starts_at_offset_and_is_lazy() -> None:
    server = FakeServer(500)
    first = server.fetch(200, 100)
    rows = iter(first)
    assert next(rows) == 200
    assert server.calls == [(200, 100)]
    assert sum(1 for _ in rows) == 299
    assert server.calls[-1] == (500, 100)


def test_a_page_on_its_own_does_not_fetch() -> None:
    page = Page([1, 2], 0, 2, 2)  # full, but with no way to fetch more
    assert [p.offset for p in page.pages()] == [0]
    assert list(page) == [1, 2]


def test_a_rejected_row_stops_the_row_iterator_but_not_the_page_walk() -> None:
    bad = RejectedRow(41, 7, "PatNum", "expected an integer")
    page: Page[int] = Page([40, 42], 40, 10, 3, (bad,), path="/patients/Simple")
    read: list[int] = []
    with pytest.raises(ResponseFormatError) as caught:
        read.extend(page)
    assert read == [40]  # the row before the bad one, then the error
    message = str(caught.value)
    assert "PatNum: expected an integer (row 41)" in message
    assert "/patients/Simple" in message
    assert [p.rejected for p in page.pages()] == [(bad,)]


def test_parse_page_keeps_good_rows_and_names_bad_ones_without_values() -> None:
    body = (
        b'[{"serverDateTime": "2024-05-06 07:08:09", "PatNum": 1},'
        b' {"PatNum": "Secretname"}, {"PatNum": 3, "Birthdate": "not a date"}]'
    )
    page = parse_page(Patient, body, offset=10, limit=3, path="/patients/Simple")
    assert [p.pat_num for p in page.items] == [1]
    assert page.received == 3
    assert [(r.position, r.key, r.field) for r in page.rejected] == [
        (11, None, "PatNum"),
        (12, 3, "Birthdate"),
    ]
    assert "Secretname" not in repr(page.rejected)
    assert page.server_time is not None


def test_parse_page_calls_a_cut_body_retryable() -> None:
    with pytest.raises(ResponseFormatError) as caught:
        parse_page(Patient, b'[{"PatNum": 1', offset=0, limit=1, path="/patients/Simple")
    assert caught.value.retryable
    with pytest.raises(ResponseFormatError) as not_rows:
        parse_page(Patient, b'{"PatNum": 1}', offset=0, limit=1, path="/patients/Simple")
    assert not not_rows.value.retryable
