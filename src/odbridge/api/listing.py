"""What every list endpoint shares: typed query values, one page request, one-row GETs.

A resource (``client.appointments``, ``client.patients``, ...) is a small class whose
``list()`` names its filters as typed keyword arguments and hands them here under the API's
names; this module formats them (dates, date-times, enums, bools, lists of keys), sends the
request, and returns a :class:`~odbridge.api.paging.Page` that knows how to fetch the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Generic, TypeVar

from odbridge.api.errors import NotFoundError, ResponseFormatError
from odbridge.api.models import ApiModel, format_api_datetime
from odbridge.api.paging import Page, parse_page, with_fetch

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = [
    "Listing",
    "PageParser",
    "QueryValue",
    "format_changed_since",
    "list_page",
    "parsed_page",
]

log = logging.getLogger("odbridge.api")

M = TypeVar("M", bound=ApiModel)
T = TypeVar("T")

QueryValue = str | int | bool | date | datetime | Enum | Sequence[int] | None
"""What a filter may be given as (None: not sent)."""

Since = datetime | date | str
"""A change cursor: the server's local time, as a datetime, a date (its midnight) or text."""


def _format_value(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_api_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, Sequence):
        return ",".join(str(int(item)) for item in value)
    raise TypeError(f"cannot send a {type(value).__name__} as a query parameter")


def format_changed_since(since: Since) -> str:
    """A ``DateTStamp`` value (``yyyy-MM-dd HH:mm:ss``, server local time, no zone).

    A date means its midnight; a string is checked and normalised. Aware datetimes are
    refused: the server's clock has no zone, so pass back its own ``serverDateTime``.
    """
    if isinstance(since, str):
        try:
            since = datetime.fromisoformat(since.strip())
        except ValueError:
            raise ValueError("changed_since must look like 'yyyy-MM-dd HH:mm:ss'") from None
    if isinstance(since, datetime):
        if since.tzinfo is not None:
            raise ValueError(
                "changed_since must be the server's local time without a zone "
                "(use the serverDateTime the server returned)"
            )
        return format_api_datetime(since)
    return format_api_datetime(datetime(since.year, since.month, since.day))


PageParser = Callable[[bytes, int, int, str], Page[T]]
"""``parse(body, offset, limit, path)``: one raw answer of a listing as a page."""


def list_page(
    client: Client,
    path: str,
    model: type[M],
    filters: Mapping[str, QueryValue],
    *,
    changed_since: Since | None = None,
    offset: int = 0,
    limit: int | None = None,
    not_found_hint: str = "",
) -> Page[M]:
    """The page of ``GET path`` at ``offset`` (filters by the API's names; None: not sent).

    ``changed_since`` is sent as ``DateTStamp``. A 404 past the first page, or for changes,
    is an empty page whose ``note`` holds the server's explanation (Open Dental answers 404
    for some empty lists); on the first page of a full listing it is raised, with
    ``not_found_hint`` when given.
    """

    def parse(body: bytes, start: int, size: int, where: str) -> Page[M]:
        return parse_page(model, body, offset=start, limit=size, path=where)

    return parsed_page(
        client,
        path,
        parse,
        filters,
        changed_since=changed_since,
        offset=offset,
        limit=limit,
        not_found_hint=not_found_hint,
    )


def parsed_page(
    client: Client,
    path: str,
    parse: PageParser[T],
    filters: Mapping[str, QueryValue],
    *,
    changed_since: Since | None = None,
    offset: int = 0,
    limit: int | None = None,
    not_found_hint: str = "",
) -> Page[T]:
    """:func:`list_page` with each answer turned into a page by ``parse`` (inside the retry
    loop, so a body cut short is asked for again) instead of into models."""
    if isinstance(offset, bool) or offset < 0:
        raise ValueError("offset must be 0 or more")
    if limit is not None and limit < 1:
        raise ValueError("limit must be at least 1")
    params = {name: _format_value(value) for name, value in filters.items() if value is not None}
    if changed_since is not None:
        params["DateTStamp"] = format_changed_since(changed_since)
    changes = changed_since is not None
    stats = client.stats

    def fetch(start: int, size: int) -> Page[T]:
        query = {**params, "Limit": str(size), "Offset": str(start)}
        try:
            page = client.get_parsed(path, query, lambda body: parse(body, start, size, path))
        except NotFoundError as exc:
            if start > 0 or changes:
                log.info("%s answered 404 at offset %d: no rows", path, start)
                note = exc.server_message or "not found"
                return Page([], start, size, 0, note=note, path=path, fetch=fetch)
            if not_found_hint and exc.hint == NotFoundError.default_hint:
                exc.hint = not_found_hint  # (a more specific hint, e.g. the base URL's, stays)
            raise
        stats.add(pages=1, rows=page.received)
        log.debug("%s page at offset %d: %d rows", path, start, page.received)
        return with_fetch(page, fetch)

    return fetch(offset, limit or client.page_size)


class Listing(Generic[M]):
    """One list endpoint of one client: ``GET {path}`` in pages of ``model``.

    Subclasses add ``list()`` with the endpoint's typed filters, and ``get()`` when the API
    has a one-row GET (``{path}/{key}``).
    """

    path: str
    model: type[M]
    item_path: str = ""
    """Where one row is read (``{item_path}/{key}``) when not under ``path`` itself."""
    key_name: str = ""
    """The API's name of the key in ``{path}/{key}`` (``PatNum``), for messages."""
    not_found_hint: str = ""
    """What to check when the first page of a full listing answers 404."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _list(
        self,
        filters: Mapping[str, QueryValue],
        *,
        offset: int,
        limit: int | None,
        changed_since: Since | None = None,
    ) -> Page[M]:
        return list_page(
            self._client,
            self.path,
            self.model,
            filters,
            changed_since=changed_since,
            offset=offset,
            limit=limit,
            not_found_hint=self.not_found_hint,
        )

    def list_rows(
        self,
        parse: PageParser[T],
        filters: Mapping[str, QueryValue] | None = None,
        *,
        changed_since: Since | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[T]:
        """The listing (``filters`` by the API's names), or the rows changed since
        ``changed_since``, with each answer turned into a page by ``parse`` instead of into
        models: for readers that store rows straight from the raw answer (the sync)."""
        return parsed_page(
            self._client,
            self.path,
            parse,
            filters or {},
            changed_since=changed_since,
            offset=offset,
            limit=limit,
            not_found_hint=self.not_found_hint,
        )

    def _get(self, num: int) -> M:
        """One row by its key; :class:`NotFoundError` if there is none."""
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ValueError(f"{self.key_name or 'the key'} must be a positive integer")
        where = self.item_path or self.path
        try:
            data = self._client.get_json(f"{where}/{num}")
        except NotFoundError as exc:
            if self.key_name and exc.hint == NotFoundError.default_hint:
                # name the key asked for (a more specific hint, e.g. the base URL's, stays)
                exc.hint = f"Check the {self.key_name}, and that the base URL ends in /api/v1."
            raise
        if isinstance(data, list) and len(data) == 1:
            data = data[0]  # tolerate a one-row array
        try:
            return self.model.from_api(data)
        except ResponseFormatError as exc:
            exc.method, exc.path = "GET", f"{where}/{{{self.key_name}}}"
            raise
