"""A synced record as the store binds it: one tuple of driver values, built once per row.

Every synced table is ``practice``, the key, the API's fields, then the bookkeeping columns
(``extra``, ``row_hash``, ``first_seen_at``, ``last_synced_at``, ``missing_since``,
``seen_pass``). A :class:`StoreRow` holds a record's field values in the table's order, in
the one form both databases take from their drivers:

- text and whole numbers as they are (an enum member as its text);
- a date as ``yyyy-MM-dd`` and a date-time as ``yyyy-MM-dd HH:MM:SS.ffffff`` (SQLAlchemy's
  SQLite forms; PostgreSQL's COPY reads the same text into its date and timestamp columns);
- money as a float (exact at the store's 12 digits, 2 after the point); a flag as 0 or 1.

The digest that tells a changed record from an unchanged one is taken over that tuple and
the record's unknown fields, so it is computed once, whichever way the row was decoded
(a pydantic model, or :mod:`odbridge.sync.decode`'s fast path for plain pages).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from hashlib import blake2b
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, Table

from odbridge.api.models import ApiModel

__all__ = ["BOOKKEEPING", "RowForm", "StoreRow", "store_date", "store_datetime"]

BOOKKEEPING = ("extra", "row_hash", "first_seen_at", "last_synced_at", "missing_since", "seen_pass")
"""The columns after a synced table's fields, in order."""

NO_EXTRA = "null"
"""``extra`` of a record with no unknown fields: JSON null, as SQLAlchemy's JSON type stores
None."""


class StoreRow(NamedTuple):
    """One record ready for the store: its key, field values, unknown fields, digest."""

    key: int
    values: tuple[Any, ...]
    """The table's field columns (key first), as the driver binds them."""
    extra: str
    """The unknown fields as JSON text (``null`` when there are none)."""
    digest: str


def store_date(value: date) -> str:
    """A date as stored (a date-time's date part)."""
    return value.isoformat()[:10]


def store_datetime(value: datetime) -> str:
    """A date-time as stored: ``yyyy-MM-dd HH:MM:SS.ffffff``; a zone, if any, is dropped
    (the API's times are the server's local time)."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _plain_text(value: Any) -> Any:
    return value._value_ if isinstance(value, Enum) else value


def _converter(column_type: object) -> Callable[[Any], Any] | None:
    """How a model's (non-None) value of a column of this type is stored (None: as it is)."""
    if isinstance(column_type, DateTime):
        return store_datetime
    if isinstance(column_type, Date):
        return store_date
    if isinstance(column_type, Numeric):
        return float
    if isinstance(column_type, Boolean):
        return int
    if isinstance(column_type, Integer):
        return None
    return _plain_text


_encoder = msgspec.json.Encoder()
_encode = _encoder.encode


def digest(values: tuple[Any, ...], extra: str) -> str:
    """A stable digest of a record's stored values and unknown fields: of their JSON (text,
    whole numbers, floats in their shortest form, null: the same in every run)."""
    data = _encode(values) if extra == NO_EXTRA else _encode(values) + extra.encode()
    return blake2b(data, digest_size=20).hexdigest()


def plain_digests(rows: Iterable[tuple[Any, ...]]) -> list[str]:
    """:func:`digest` of each row with no unknown fields (the same text): each row's JSON
    is written into one buffer, reused, rather than into a new bytes object per row."""
    buffer = bytearray(1024)  # one per call: pages may be decoded on several threads
    encode_into = _encoder.encode_into
    digests: list[str] = []
    for values in rows:
        encode_into(values, buffer)  # the buffer ends where this row's JSON ends
        digests.append(blake2b(buffer, digest_size=20).hexdigest())
    return digests


def extra_json(extra: Mapping[str, Any] | None) -> str:
    """A record's unknown fields as stored: JSON text, keys sorted; ``null`` for none."""
    if not extra:
        return NO_EXTRA
    return json.dumps(extra, sort_keys=True, default=str)


_first = itemgetter(0)


class RowForm:
    """The stored form of one table's records: its field columns and how a model's values
    become driver values."""

    def __init__(self, table: Table, key: str) -> None:
        columns = [c.name for c in table.columns]
        if columns[:2] != ["practice", key] or tuple(columns[-len(BOOKKEEPING) :]) != BOOKKEEPING:
            raise ValueError(
                f"{table.name}: a synced table is practice, {key}, its fields, then "
                f"{', '.join(BOOKKEEPING)}"
            )
        self.table = table
        self.key = key
        self.names: tuple[str, ...] = tuple(str(name) for name in columns[1 : -len(BOOKKEEPING)])
        """The field columns, key first, in the table's order."""
        self._values = itemgetter(*self.names)
        converters = ((place, _converter(table.c[n].type)) for place, n in enumerate(self.names))
        self._converted = tuple((place, c) for place, c in converters if c is not None)

    def from_model(self, model: ApiModel) -> StoreRow:
        """A validated model as a store row (fields the table lacks are not stored)."""
        data = model.__dict__
        values = list(self._values(data)) if all(n in data for n in self.names) else self._get(data)
        for place, convert in self._converted:
            value = values[place]
            if value is not None:
                values[place] = convert(value)
        return self.row(tuple(values), extra_json(model.__pydantic_extra__))

    def _get(self, data: Mapping[str, Any]) -> list[Any]:
        return [data.get(name) for name in self.names]

    def row(self, values: tuple[Any, ...], extra: str = NO_EXTRA) -> StoreRow:
        """A store row of values already in stored form (key first)."""
        return StoreRow(int(values[0]), values, extra, digest(values, extra))

    def rows(self, values: Iterable[tuple[Any, ...]]) -> list[StoreRow]:
        """:meth:`row` of many rows with no unknown fields (a whole page at once)."""
        listed = list(values)
        keys = map(int, map(_first, listed))
        fields = zip(keys, listed, repeat(NO_EXTRA), plain_digests(listed), strict=False)
        return list(map(StoreRow._make, fields))
