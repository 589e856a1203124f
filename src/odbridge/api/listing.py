"""One list endpoint of the API, paged and typed: the shape every visit resource shares.

    client.appointments.iter(date_start=date(2024, 1, 1))
    client.procedure_logs.changed_pages("2024-06-01 00:00:00")
    client.definitions.iter(category=4, include_hidden=True)

Filters take the API's names (``DateTStamp``, ``ClinicNum``) or snake_case (``date_tstamp``,
``clinic_num``); dates, date-times, enums and bools are formatted as the API expects.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from odbridge.api.errors import NotFoundError, ResponseFormatError
from odbridge.api.models import ApiModel
from odbridge.api.paging import Page, PageHook, PageInfo, paginate
from odbridge.api.patients import (
    FilterValue,
    _aliases,
    _api_params,
    _page_of,
    format_changed_since,
    validated_page,
)

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["ListEndpoint", "StampedPage"]

log = logging.getLogger("odbridge.api")

M = TypeVar("M", bound=ApiModel)


@dataclass(frozen=True)
class StampedPage(Generic[M]):
    """One page of a change query, with the server's clock for it (None when the API does
    not send one or the page is empty): the next cursor."""

    rows: builtins.list[M]
    server_date_time: datetime | None
    offset: int

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[M]:
        return iter(self.rows)


class ListEndpoint(Generic[M]):
    """``GET {path}`` (pages of ``model``) and, when ``single``, ``GET {path}/{num}``."""

    def __init__(
        self,
        client: Client,
        path: str,
        model: type[M],
        filters: tuple[str, ...],
        *,
        single: bool = False,
        key_name: str = "",
    ) -> None:
        self._client = client
        self.path = path
        self.model = model
        self._names = _aliases((*filters, "Offset", "Limit"))
        self._single = single
        self._key_name = key_name

    def get(self, num: int) -> M:
        """One row by its key; :class:`NotFoundError` if there is none."""
        if not self._single:
            raise TypeError(f"{self.path} has no single-row GET in the API")
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ValueError(f"{self._key_name or 'the key'} must be a positive integer")
        data = self._client.get_json(f"{self.path}/{num}")
        if isinstance(data, builtins.list) and len(data) == 1:
            data = data[0]
        try:
            return self.model.from_api(data)
        except ResponseFormatError as exc:
            exc.method, exc.path = "GET", f"{self.path}/{{{self._key_name}}}"
            raise

    def list(self, **filters: FilterValue) -> builtins.list[M]:
        """One page (``limit``/``offset`` choose which)."""
        params = _api_params(self._names, filters)
        params.setdefault("Limit", str(self._client.page_size))
        offset = int(params.get("Offset", "0"))
        data = self._client.get_json(self.path, params)
        return _page_of(self.model, data, offset, self.path)

    def page(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        changed_since: datetime | date | str | None = None,
        **filters: FilterValue,
    ) -> Page[M]:
        """One page, validated row by row (a malformed row lands in ``rejected``): for sync.

        A 404 past the first page, or for changes, is an empty page (Open Dental answers 404
        for some empty lists); on the first page of a full listing it is raised.
        """
        params = _api_params(self._names, filters)
        if changed_since is not None:
            if "DateTStamp" not in self._names:
                raise TypeError(f"{self.path} has no DateTStamp filter; read it all instead")
            params["DateTStamp"] = format_changed_since(changed_since)
        limit = limit or self._client.page_size
        params.update(Limit=str(limit), Offset=str(offset))
        try:
            data = self._client.get_json(self.path, params)
        except NotFoundError as exc:
            if offset > 0 or changed_since is not None:
                return Page([], offset, limit, 0, note=exc.server_message or "not found")
            raise
        return validated_page(self.model, data, offset=offset, limit=limit, path=self.path)

    def pages(
        self, *, on_page: PageHook | None = None, **filters: FilterValue
    ) -> Iterator[builtins.list[M]]:
        """Every page matching ``filters``, lazily (``offset`` sets the start)."""
        params = _api_params(self._names, filters)
        limit = int(params.pop("Limit", self._client.page_size))
        start = int(params.pop("Offset", "0"))
        stats = self._client.stats

        def fetch(offset: int, page_limit: int) -> builtins.list[M]:
            query = {**params, "Limit": str(page_limit), "Offset": str(offset)}
            return _page_of(self.model, self._client.get_json(self.path, query), offset, self.path)

        def observe(info: PageInfo) -> None:
            stats.add(pages=1, rows=info.rows)
            log.debug(
                "%s page %d: %d rows (offset %d)", self.path, info.number, info.rows, info.offset
            )
            if on_page is not None:
                on_page(info)

        for page in paginate(fetch, limit=limit, offset=start, on_page=observe):
            yield builtins.list(page)

    def iter(self, *, on_page: PageHook | None = None, **filters: FilterValue) -> Iterator[M]:
        """Every row matching ``filters``, one page in memory at a time."""
        for page in self.pages(on_page=on_page, **filters):
            yield from page

    def changed_pages(
        self,
        since: datetime | date | str,
        *,
        on_page: PageHook | None = None,
        **filters: FilterValue,
    ) -> Iterator[StampedPage[M]]:
        """Every page of rows changed at or after ``since`` (``DateTStamp >=``), each with
        the server's clock when it answered."""
        if "DateTStamp" not in self._names:
            raise TypeError(f"{self.path} has no DateTStamp filter; read it all instead")
        filters["DateTStamp"] = format_changed_since(since)
        offset = int(str(filters.get("offset") or filters.get("Offset") or 0))
        for page in self.pages(on_page=on_page, **filters):
            stamps = [s for row in page if (s := getattr(row, "server_date_time", None))]
            yield StampedPage(page, min(stamps, default=None), offset)
            offset += len(page)
