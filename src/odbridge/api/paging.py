"""Limit/Offset paging: one :class:`Page` type for every list endpoint, auto-paging.

    page = client.patients.list(changed_since=cursor)   # one request: the first page
    page.items, page.rejected, page.server_time         # this page
    for patient in page: ...                            # every row, next pages fetched lazily
    for each in page.pages(): ...                       # page by page (offsets, server time)

Responses are bare JSON arrays without a total, so a short page is the only end marker.
A server that caps ``Limit`` below what was asked returns short pages too; to tell the two
apart, a short page whose length is a documented cap (100, 1,000, 10,000) is treated as
"maybe capped": paging continues with that length as the limit, which costs one empty
request if it really was the end. The client also clamps its page size to the mode's cap,
so this only matters against an unexpected server.

:func:`parse_page` turns one raw answer into a :class:`Page`; the client calls it inside its
retry loop, so a body cut short is retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from odbridge.api.errors import ResponseFormatError
from odbridge.api.models import ApiModel, validate_whole_page

__all__ = ["KNOWN_CAPS", "Page", "RejectedRow", "parse_page"]

T_co = TypeVar("T_co", covariant=True)
M = TypeVar("M", bound=ApiModel)
T = TypeVar("T")

KNOWN_CAPS = frozenset({100, 1000, 10_000})
"""Page caps Open Dental documents; a short page of exactly this size may be a capped one."""


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


FetchPage = Callable[[int, int], "Page[T_co]"]
"""``fetch(offset, limit)``: the page of the same listing at ``offset``."""


@dataclass(frozen=True)
class Page(Generic[T_co]):
    """One answer of a Limit/Offset listing, validated row by row, that can fetch the rest.

    ``items`` are the rows of this answer that validated, ``rejected`` those that did not;
    ``received`` counts both (it is what moves ``Offset``). ``server_time`` is the server's
    clock when it answered (``serverDateTime``), when the endpoint sends one: the first page's
    is the next change cursor (minus an overlap, see :class:`odbridge.sync.cursor.Cursor`).

    Iterating a page yields every row from this page on, requesting the following pages
    lazily (one page in memory at a time); a row that did not validate raises
    :class:`ResponseFormatError` where it stands, after the rows before it. :meth:`pages`
    walks page by page instead, rejected rows included, for callers that keep going past a
    bad row.
    """

    items: Sequence[T_co]
    offset: int
    limit: int
    received: int
    rejected: tuple[RejectedRow, ...] = ()
    server_time: datetime | None = None
    note: str = ""
    """Why the page is empty when the server answered "not found" for a list (404)."""
    path: str = ""
    """The endpoint, e.g. ``/patients/Simple`` (for messages)."""
    fetch: FetchPage[T_co] | None = field(default=None, repr=False, compare=False)
    """How to request another page of the same listing; None for a page on its own."""

    @property
    def maybe_capped(self) -> bool:
        """True when this short page may have been cut at a documented cap, not the end."""
        return 0 < self.received < self.limit and self.received in KNOWN_CAPS

    @property
    def is_last(self) -> bool:
        """True when no page follows: an empty answer, or fewer rows than asked for (and
        not a documented cap)."""
        return self.received == 0 or (self.received < self.limit and not self.maybe_capped)

    def _next(self) -> Page[T_co] | None:
        """The page after this one (one request), or None when this is the last."""
        if self.is_last or self.fetch is None:
            return None
        limit = self.received if self.maybe_capped else self.limit
        return self.fetch(self.offset + self.received, limit)

    def pages(self) -> Iterator[Page[T_co]]:
        """This page, then each following one, requested only when the previous one has
        been consumed."""
        page: Page[T_co] | None = self
        while page is not None:
            yield page
            page = page._next()

    def __iter__(self) -> Iterator[T_co]:
        for page in self.pages():
            if not page.rejected:
                yield from page.items
                continue
            first = min(page.rejected, key=lambda row: row.position)
            yield from page.items[: first.position - page.offset]  # the rows before it
            raise page.rejected_error(first)

    def rejected_error(self, row: RejectedRow) -> ResponseFormatError:
        """The error for a rejected row of this page (field, row, endpoint; never a value)."""
        return ResponseFormatError(
            row.problem, field=row.field, row=row.position, method="GET", path=self.path
        )


def _raw_key(model: type[ApiModel], data: object) -> int | None:
    """The row's primary key when it is a plain whole number (an id, never patient data)."""
    if model.key_alias is None or not isinstance(data, Mapping):
        return None
    value = data.get(model.key_alias)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_page(model: type[M], body: bytes, *, offset: int, limit: int, path: str) -> Page[M]:
    """One raw answer of a listing as a :class:`Page`, each row validated on its own.

    The whole page is validated at once first (fast); only when that fails is it validated
    row by row, so one bad row never costs the page. A row that does not validate is
    returned in ``rejected`` (position, key, field, problem; never its value) and the rest
    of the page is kept. A body that is not whole JSON raises :class:`ResponseFormatError`
    with ``truncated`` (retried); one that is not an array of rows raises it without.
    ``server_time`` is the first valid row's ``serverDateTime``.
    """
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ResponseFormatError(
            "the body is not whole JSON (it may have been cut short on the way)",
            truncated=True,
            method="GET",
            path=path,
        ) from None
    if not isinstance(data, list):
        raise ResponseFormatError("expected a JSON array of rows", method="GET", path=path)
    whole = validate_whole_page(model, data)
    if whole is not None:  # the common case: every row valid, validated at once
        return Page(whole, offset, limit, len(data), (), _server_time(whole), path=path)
    items: list[M] = []
    rejected: list[RejectedRow] = []
    for index, row in enumerate(data):
        try:
            items.append(model.from_api(row, row=offset + index))
        except ResponseFormatError as exc:
            rejected.append(
                RejectedRow(offset + index, _raw_key(model, row), exc.field, exc.problem)
            )
    return Page(items, offset, limit, len(data), tuple(rejected), _server_time(items), path=path)


def _server_time(items: list[M]) -> datetime | None:
    return next((s for s in (getattr(item, "server_date_time", None) for item in items) if s), None)


def with_fetch(page: Page[T], fetch: FetchPage[T]) -> Page[T]:
    """``page`` able to request the pages after it with ``fetch``."""
    return replace(page, fetch=fetch)
