"""Plain pages decoded straight into store rows, with the models as the fallback.

Nearly every page Open Dental sends holds each field in one plain form: text, a whole
number, ``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm:ss``, a JSON number for money, ``"true"``/``"false"``,
an enum's exact name, and the "no value" forms (``""``, ``0``, ``0001-01-01``). A page made
only of those is decoded and checked in one pass by msgspec, and each row is turned into its
:class:`~odbridge.sync.rowform.StoreRow` without building a model: several times less CPU
than JSON → dicts → pydantic models → rows, which is what a group's workers spend most of
their time on.

Anything else (another spelling of a value, an unknown field, an enum name this version does
not know, a row that does not validate) sends the whole page through the models
(:func:`odbridge.api.paging.parse_page`), so the models stay the one definition of what a
field accepts: the fast path only takes forms the models take, with the same result
(tests/unit/test_decode.py checks it field by field and on whole pages).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec

from odbridge.api.fields import INT_LIMIT, MONEY_LIMIT, NO_DATE, NO_DATETIME, plain_form
from odbridge.api.models import ApiModel
from odbridge.api.paging import Page, RejectedRow, parse_page
from odbridge.sync.rowform import RowForm, StoreRow

__all__ = ["PageDecoder", "rows_page"]

_WHOLE = msgspec.Meta(ge=-INT_LIMIT, le=INT_LIMIT - 1)

_TYPES: dict[str, Any] = {
    "text": str | None,
    "int": Annotated[int, _WHOLE],
    "key": Annotated[int, _WHOLE] | None,
    "date": str | None,
    "stamp": str | None,
    "money": Decimal | None,
    "flag": bool | str,
    "enum": str | None,  # (of no known enum; one of a known enum: _enum_type)
}
"""What msgspec accepts for each plain form (anything else fails the fast path)."""


class _NotPlainError(Exception):
    """A value msgspec accepted that is not in the plain form the fast path converts."""


@lru_cache(maxsize=1 << 16)  # days repeat from page to page (about 36,500 in a century)
def _date(value: str | None) -> str | None:
    """``yyyy-MM-dd`` of a real day (not 2026-02-30); the no-value forms are None."""
    if not value or value == NO_DATE:
        return None
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        raise _NotPlainError
    try:
        date.fromisoformat(value)
    except ValueError:
        raise _NotPlainError from None
    return value


def _stamp(value: str | None) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` (or with a T) of a real moment, stored with microseconds;
    the no-value forms are None."""
    if not value or value in (NO_DATETIME, NO_DATE):
        return None
    # value[4::3] is the characters at 4, 7, 10, 13 and 16: the separators
    if len(value) != 19 or value[4::3] not in _STAMP_SEPARATORS or not value.isascii():
        raise _NotPlainError
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlainError from None
    if value[10] == " ":
        return value + ".000000"
    return f"{value[:10]} {value[11:]}.000000"


_STAMP_SEPARATORS = ("-- ::", "--T::")


def _money(value: Decimal | None) -> float | None:
    if value is None:
        return None
    try:
        if -MONEY_LIMIT < value < MONEY_LIMIT:
            return float(value)
    except ArithmeticError:  # NaN
        pass
    raise _NotPlainError


def _flag(value: bool | str) -> int:
    if value is True or value == "true":
        return 1
    if value is False or value == "false":
        return 0
    raise _NotPlainError


def _enum_type(enum: type[StrEnum]) -> Any:
    """What msgspec accepts for an enum: its exact names, and the no-value forms (``""``
    and null; ``""`` is made None with the text columns, unless it is one of the names).
    Another spelling, or a name this version does not know, fails the fast path."""
    names = tuple(member.value for member in enum)
    return Literal[(*names, "")] | None


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "date": _date,
    "stamp": _stamp,
    "money": _money,
    "flag": _flag,
}
"""Forms converted value by value. Text, keys and enums (checked by msgspec, see
:func:`_enum_type`) only have their "no value" forms (``""``, 0) made None; whole numbers
are kept as they are."""


def _converted(column: Sequence[Any], convert: Callable[[Any], Any]) -> Sequence[Any]:
    """A column converted value by value. A column repeats most of its values (a status,
    a provider, a balance of 0), so each distinct value is converted once, unless most are
    distinct (a stamp): then finding the distinct ones costs more than it saves."""
    distinct = set(column)
    if len(distinct) * 2 > len(column):
        return list(map(convert, column))
    done = {value: convert(value) for value in distinct}
    return list(map(done.__getitem__, column))


def _empty_as_none(column: Sequence[Any]) -> Sequence[Any]:
    """A text or key column with its "no value" forms (``""``, 0) as None. Most columns are
    all filled or all empty, and are told so without a step per value."""
    if all(column):
        return column
    if not any(column):
        return [None] * len(column)
    return [value or None for value in column]


class PageDecoder:
    """Decodes pages of one model straight into store rows of one table (see the module).

    A model with a field of no plain form, or without a field the table stores, has no fast
    path: every page of it goes through the models."""

    def __init__(self, model: type[ApiModel], form: RowForm) -> None:
        self.model = model
        self.form = form
        self._decoder: msgspec.json.Decoder[list[Any]] | None = None
        fields = model.model_fields
        stored = list(form.names)
        others = [name for name in fields if name not in stored]
        if any(name not in fields for name in stored):
            return
        specs: list[tuple[str, Any, Any]] = []
        converts: list[tuple[int, Callable[[Any], Any]]] = []
        emptied: list[int] = []
        for place, name in enumerate(stored + others):
            info = fields[name]
            plain = plain_form(info.metadata)
            if plain is None:
                return
            kind, enum = plain
            default = msgspec.NODEFAULT if info.is_required() else info.default
            if kind == "enum" and enum is not None:
                specs.append((name, _enum_type(enum), default))
                if all(member.value for member in enum):  # else "" is a name, kept
                    emptied.append(place)
                continue
            specs.append((name, _TYPES[kind], default))
            if kind in _CONVERT:
                converts.append((place, _CONVERT[kind]))
            elif kind in ("text", "key"):
                emptied.append(place)
        renames = {name: info.alias or name for name, info in fields.items()}
        struct = msgspec.defstruct(
            f"Plain{model.__name__}",
            specs,
            kw_only=True,
            forbid_unknown_fields=True,
            rename=renames,
            gc=False,
        )
        self._decoder = msgspec.json.Decoder(list[struct])  # type: ignore[valid-type]
        self._stored = len(stored)
        self._converts = tuple(converts)
        self._emptied = tuple(emptied)
        server = "server_date_time"
        self._server_place = (stored + others).index(server) if server in fields else None

    def parse(self, body: bytes, offset: int, limit: int, path: str) -> Page[StoreRow]:
        """One raw answer of a listing as a page of store rows: the fast path when every
        row is plain, else the models' :func:`~odbridge.api.paging.parse_page` (rows that
        do not validate are rejected there, and a body cut short raises for a retry)."""
        rows = self.plain_rows(body)
        if rows is None:
            page = parse_page(self.model, body, offset=offset, limit=limit, path=path)
            return rows_page(self.form, page)
        values, server_time = rows
        items = self.form.rows(values)
        return Page(items, offset, limit, len(items), (), server_time, path=path)

    def plain_rows(self, body: bytes) -> tuple[list[tuple[Any, ...]], datetime | None] | None:
        """The page's rows in stored form, or None when a value is not plain. Converted
        column by column (:func:`_converted`, :func:`_empty_as_none`)."""
        if self._decoder is None:
            return None
        try:
            decoded = self._decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if not decoded:
            return [], None
        records = map(msgspec.structs.astuple, decoded)
        columns: list[Sequence[Any]] = list(zip(*records, strict=True))
        try:
            for place, convert in self._converts:  # (fields not stored are checked too)
                columns[place] = _converted(columns[place], convert)
        except (_NotPlainError, TypeError):  # TypeError: a signalling NaN cannot be hashed
            return None
        for place in self._emptied:
            columns[place] = _empty_as_none(columns[place])
        server_time = None
        if self._server_place is not None:
            first = next((v for v in columns[self._server_place] if v is not None), None)
            server_time = None if first is None else datetime.fromisoformat(first)
        return list(zip(*columns[: self._stored], strict=True)), server_time


def rows_page(form: RowForm, page: Page[ApiModel]) -> Page[StoreRow]:
    """A page of models as a page of store rows (paging kept). A row whose key is null
    (which its model allows) cannot be stored: it is rejected, like a row that does not
    validate."""
    rejected = list(page.rejected)
    taken = {row.position for row in rejected}
    positions = (p for p in range(page.offset, page.offset + page.received) if p not in taken)
    items: list[StoreRow] = []
    for model, position in zip(page.items, positions, strict=False):
        if getattr(model, form.key, None) is None:
            name = type(model).key_alias or form.key
            rejected.append(RejectedRow(position, None, name, "missing"))
        else:
            items.append(form.from_model(model))
    return Page(
        items,
        page.offset,
        page.limit,
        page.received,
        tuple(sorted(rejected, key=lambda row: row.position)),
        page.server_time,
        page.note,
        page.path,
    )
