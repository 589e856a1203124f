"""The patients resource: ``client.patients``.

=====================================  =============================================
``get(pat_num)``                       ``GET /patients/{PatNum}``: one full record
``list(**filters)``                    one page of ``GET /patients/Simple``
``iter(**filters)`` / ``pages()``      every page of it (all statuses), lazily
``simple(changed_since)``              one page of changes since a cursor
``iter_changed(since)`` /              every page of changes; each row carries
``changed_pages(since)``               ``server_date_time``, the next cursor
``page(offset, changed_since)``        one page, validated row by row (bad rows are
                                       returned apart, not raised): for sync
``search(**params)`` /                 ``GET /patients``, the Patient Select search
``iter_search(**params)``              (reduced rows, :class:`PatientSummary`)
=====================================  =============================================

Filters take the API's names (``LName``, ``PatStatus``) or snake_case (``lname``,
``pat_status``, ``clinic_num``); dates, date-times, enums, bools and lists are formatted
as the API expects. Paging methods accept ``on_page`` (a :data:`PageHook`) for progress.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from odbridge.api.errors import NotFoundError, ResponseFormatError
from odbridge.api.models import (
    ApiModel,
    ChangedPage,
    Patient,
    PatientSummary,
    format_api_datetime,
)
from odbridge.api.paging import Page, PageHook, PageInfo, RejectedRow, paginate

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["FilterValue", "Patients", "format_changed_since"]

log = logging.getLogger("odbridge.api")

FilterValue = str | int | bool | date | datetime | Enum | Sequence[int] | None
M = TypeVar("M", bound=ApiModel)

SIMPLE_FILTERS = (
    "LName",
    "FName",
    "Birthdate",
    "ClinicNum",
    "PatStatus",
    "DateTStamp",
    "PriProv",
    "Gender",
    "Position",
    "Guarantor",
    "SuperFamily",
    "EmployerNum",
    "FeeSched",
    "Offset",
    "Limit",
)
SEARCH_PARAMS = (
    "LName",
    "FName",
    "Phone",
    "Address",
    "hideInactive",
    "City",
    "State",
    "SSN",
    "ChartNumber",
    "guarOnly",
    "showArchived",
    "Birthdate",
    "SiteNum",
    "SubscriberId",
    "Email",
    "Country",
    "clinicNums",
    "clinicAbbr",
    "invoiceNumber",
    "Offset",
    "Limit",
)
_EXTRA_ALIASES = {"lname": "LName", "fname": "FName", "date_tstamp": "DateTStamp"}
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    """``LName`` → ``l_name``, ``DateTStamp`` → ``date_t_stamp``, ``clinicNums`` →
    ``clinic_nums``."""
    return _WORD_BREAK.sub("_", name).lower()


def _aliases(names: Iterable[str]) -> dict[str, str]:
    table = {name: name for name in names}
    table.update({_snake(name): name for name in names})
    table.update({k: v for k, v in _EXTRA_ALIASES.items() if v in table})
    return table


_SIMPLE_NAMES = _aliases(SIMPLE_FILTERS)
_SEARCH_NAMES = _aliases(SEARCH_PARAMS)


def _format_value(value: FilterValue) -> str:
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


def _api_params(names: Mapping[str, str], given: Mapping[str, FilterValue]) -> dict[str, str]:
    """Map pythonic names to the API's and format the values; None values are dropped."""
    params: dict[str, str] = {}
    for key, value in given.items():
        api_name = names.get(key) or names.get(key.lower())
        if api_name is None:
            known = ", ".join(sorted({_snake(n) for n in names.values()}))
            raise TypeError(f"unknown parameter {key!r}; known: {known}")
        if value is not None:
            params[api_name] = _format_value(value)
    return params


def format_changed_since(since: datetime | date | str) -> str:
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


def _page_of(model: type[M], data: Any, offset: int, path: str) -> builtins.list[M]:
    if not isinstance(data, builtins.list):
        raise ResponseFormatError("expected a JSON array of rows", method="GET", path=path)
    rows = []
    for index, row in enumerate(data):
        try:
            rows.append(model.from_api(row, row=offset + index))
        except ResponseFormatError as exc:
            exc.method, exc.path = "GET", path
            raise
    return rows


LIST_NOT_FOUND_HINT = (
    "Open Dental documents a 404 'with an explanation' for patients/Simple: a filter that "
    "names something that does not exist (a ClinicNum, a PriProv), or no such resource at "
    "this base URL. Check the filters and that the base URL ends in /api/v1."
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


def validated_page(model: type[M], data: Any, *, offset: int, limit: int, path: str) -> Page[M]:
    """The rows of one answer, each validated on its own: a row that does not validate is
    returned in ``rejected`` (position, key, field, problem; never its value) and the rest
    of the page is kept."""
    if not isinstance(data, builtins.list):
        raise ResponseFormatError("expected a JSON array of rows", method="GET", path=path)
    items: builtins.list[M] = []
    rejected: builtins.list[RejectedRow] = []
    for index, row in enumerate(data):
        try:
            items.append(model.from_api(row, row=offset + index))
        except ResponseFormatError as exc:
            rejected.append(
                RejectedRow(offset + index, _raw_key(model, row), exc.field, exc.problem)
            )
    stamps = [s for s in (getattr(item, "server_date_time", None) for item in items) if s]
    server_time = stamps[0] if stamps else None
    return Page(items, offset, limit, len(data), tuple(rejected), server_time)


class Patients:
    """Patient endpoints of one :class:`~odbridge.api.client.Client`."""

    SIMPLE = "/patients/Simple"
    SEARCH = "/patients"

    def __init__(self, client: Client) -> None:
        self._client = client

    # -- single records ---------------------------------------------------------------------
    def get(self, pat_num: int) -> Patient:
        """One patient's full record; :class:`NotFoundError` if there is none."""
        if isinstance(pat_num, bool) or not isinstance(pat_num, int) or pat_num < 1:
            raise ValueError("pat_num must be a positive integer")
        path = f"/patients/{pat_num}"
        data = self._client.get_json(path)
        if isinstance(data, builtins.list) and len(data) == 1:
            data = data[0]  # tolerate a one-row array
        try:
            return Patient.from_api(data)
        except ResponseFormatError as exc:
            exc.method, exc.path = "GET", "/patients/{PatNum}"
            raise

    # -- GET /patients/Simple -----------------------------------------------------------------
    def list(self, **filters: FilterValue) -> builtins.list[Patient]:
        """One page of ``patients/Simple`` (``limit``/``offset`` choose which)."""
        params = _api_params(_SIMPLE_NAMES, filters)
        params.setdefault("Limit", str(self._client.page_size))
        offset = int(params.get("Offset", "0"))
        return self._fetch(Patient, self.SIMPLE, params, offset)

    def pages(
        self, *, on_page: PageHook | None = None, **filters: FilterValue
    ) -> Iterator[builtins.list[Patient]]:
        """Every page of ``patients/Simple`` with ``filters``, lazily (``limit`` sets the
        page size, ``offset`` the start)."""
        params = _api_params(_SIMPLE_NAMES, filters)
        return self._pages(Patient, self.SIMPLE, params, on_page)

    def iter(self, *, on_page: PageHook | None = None, **filters: FilterValue) -> Iterator[Patient]:
        """Every patient matching ``filters`` (every status unless ``pat_status`` is given),
        one page in memory at a time."""
        for page in self.pages(on_page=on_page, **filters):
            yield from page

    def page(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        changed_since: datetime | date | str | None = None,
        **filters: FilterValue,
    ) -> Page[Patient]:
        """One page of ``patients/Simple`` (all of it, or changed at or after
        ``changed_since``), validated row by row: a malformed row lands in ``rejected``
        instead of failing the page.

        A 404 is an answer Open Dental documents for this list: past the first page, or for
        changes, it means no rows (an empty page whose ``note`` holds the server's
        explanation); on the first page of a full listing it raises :class:`NotFoundError`
        with what to check.
        """
        params = _api_params(_SIMPLE_NAMES, filters)
        if changed_since is not None:
            params["DateTStamp"] = format_changed_since(changed_since)
        limit = limit or self._client.page_size
        params.update(Limit=str(limit), Offset=str(offset))
        try:
            data = self._client.get_json(self.SIMPLE, params)
        except NotFoundError as exc:
            if offset > 0 or changed_since is not None:
                log.info("%s answered 404 at offset %d: no rows", self.SIMPLE, offset)
                return Page([], offset, limit, 0, note=exc.server_message or "not found")
            exc.hint = LIST_NOT_FOUND_HINT
            raise
        return validated_page(Patient, data, offset=offset, limit=limit, path=self.SIMPLE)

    # -- changes since a cursor ---------------------------------------------------------------
    def simple(
        self,
        changed_since: datetime | date | str,
        *,
        limit: int | None = None,
        offset: int = 0,
        **filters: FilterValue,
    ) -> ChangedPage:
        """One page of the patients changed at or after ``changed_since``.

        The result's ``server_date_time`` is the cursor for the next call.
        """
        params = _api_params(_SIMPLE_NAMES, filters)
        params["DateTStamp"] = format_changed_since(changed_since)
        limit = limit or self._client.page_size
        params.update(Limit=str(limit), Offset=str(offset))
        rows = self._fetch(Patient, self.SIMPLE, params, offset)
        return ChangedPage.from_rows(rows, limit=limit, offset=offset)

    def changed_pages(
        self,
        since: datetime | date | str,
        *,
        on_page: PageHook | None = None,
        **filters: FilterValue,
    ) -> Iterator[ChangedPage]:
        """Every page of changes since ``since``, each with its cursor, lazily."""
        params = _api_params(_SIMPLE_NAMES, filters)
        params["DateTStamp"] = format_changed_since(since)
        limit = int(params.get("Limit", self._client.page_size))
        offset = int(params.get("Offset", "0"))
        for page in self._pages(Patient, self.SIMPLE, params, on_page):
            yield ChangedPage.from_rows(page, limit=limit, offset=offset)
            offset += len(page)

    def iter_changed(
        self,
        since: datetime | date | str,
        *,
        on_page: PageHook | None = None,
        **filters: FilterValue,
    ) -> Iterator[Patient]:
        """Every patient changed since ``since``; each carries ``server_date_time``.

        The server's order is by PatNum, not by stamp. The next ``since`` is the
        ``server_date_time`` of the *first* page of a pass that completed, minus an overlap
        of at least an hour (:class:`odbridge.sync.cursor.Cursor` does this): a row edited
        while later pages were read has a stamp after that time, so it is read again.
        """
        for page in self.changed_pages(since, on_page=on_page, **filters):
            yield from page.patients

    # -- GET /patients (Patient Select search) --------------------------------------------------
    def search(self, **params: FilterValue) -> builtins.list[PatientSummary]:
        """One page of the Patient Select search (reduced rows)."""
        query = _api_params(_SEARCH_NAMES, params)
        query.setdefault("Limit", str(self._client.page_size))
        offset = int(query.get("Offset", "0"))
        return self._fetch(PatientSummary, self.SEARCH, query, offset)

    def iter_search(
        self, *, on_page: PageHook | None = None, **params: FilterValue
    ) -> Iterator[PatientSummary]:
        """Every row of the Patient Select search, lazily."""
        query = _api_params(_SEARCH_NAMES, params)
        for page in self._pages(PatientSummary, self.SEARCH, query, on_page):
            yield from page

    # -- plumbing --------------------------------------------------------------------------
    def _fetch(
        self, model: type[M], path: str, params: Mapping[str, str], offset: int
    ) -> builtins.list[M]:
        data = self._client.get_json(path, params)
        return _page_of(model, data, offset, path)

    def _pages(
        self,
        model: type[M],
        path: str,
        params: dict[str, str],
        on_page: PageHook | None,
    ) -> Iterator[builtins.list[M]]:
        limit = int(params.pop("Limit", self._client.page_size))
        start = int(params.pop("Offset", "0"))
        stats = self._client.stats

        def fetch(offset: int, page_limit: int) -> builtins.list[M]:
            query = {**params, "Limit": str(page_limit), "Offset": str(offset)}
            return self._fetch(model, path, query, offset)

        def observe(info: PageInfo) -> None:
            stats.add(pages=1, rows=info.rows)
            log.debug("%s page %d: %d rows (offset %d)", path, info.number, info.rows, info.offset)
            if info.last:
                log.info("%s: %d rows in %d pages", path, info.total_rows, info.number)
            if on_page is not None:
                on_page(info)

        for page in paginate(fetch, limit=limit, offset=start, on_page=observe):
            yield builtins.list(page)
