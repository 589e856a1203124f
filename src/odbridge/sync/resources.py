"""What the sync engine needs to know about a resource: its endpoint, key, table and cursor.

Adding another Open Dental resource (appointments, recalls, providers, clinics) means writing
one more :class:`Resource` and its table, not another engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Table

from odbridge.api.client import Client
from odbridge.api.models import ApiModel, Patient
from odbridge.api.paging import PageHook
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients

Row = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A syncable resource.

    - ``all_pages(client, offset, on_page)``: every record, by pages, from ``offset``.
    - ``changed_pages(client, since, on_page)``: records changed at or after ``since``
      (the API's DateTime text, server local time).
    - ``to_row(model)``: the table row (key column included), without bookkeeping.
    - ``server_time(page)``: the server's clock for that page, for the next cursor.
    """

    name: str
    table: Table
    key: str
    all_pages: Callable[[Client, int, PageHook], Iterator[Sequence[ApiModel]]]
    changed_pages: Callable[[Client, str, PageHook], Iterator[Sequence[ApiModel]]]
    to_row: Callable[[ApiModel], Row]
    server_time: Callable[[Sequence[ApiModel]], datetime | None]


def row_digest(values: tuple[Any, ...], extra: dict[str, Any] | None) -> str:
    """A stable digest of a record's content, to tell changed rows from unchanged ones.

    ``repr`` of ints, text, dates, datetimes, Decimals and None is stable across runs.
    """
    text = repr(values)
    if extra:
        text += json.dumps(extra, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


_ENUM_FIELDS = (
    "pat_status",
    "gender",
    "position",
    "prefer_confirm_method",
    "prefer_contact_method",
    "prefer_recall_method",
    "txt_msg_ok",
)


def patient_row(model: ApiModel) -> Row:
    """A Patient as a ``patients`` row: typed columns, unknown fields in ``extra``.

    Enum members become plain text (database drivers would otherwise store their names).
    """
    data = model.__dict__
    row: Row = {name: data[name] for name in PATIENT_FIELD_NAMES}
    for name in _ENUM_FIELDS:
        value = row[name]
        if isinstance(value, Enum):
            row[name] = value.value
    extra = dict(model.__pydantic_extra__) if model.__pydantic_extra__ else None
    row["row_hash"] = row_digest(tuple(row.values()), extra)
    row["extra"] = extra
    return row


def _patient_server_time(page: Sequence[ApiModel]) -> datetime | None:
    stamps = [p.server_date_time for p in page if isinstance(p, Patient) and p.server_date_time]
    return min(stamps, default=None)


def _all_patients(client: Client, offset: int, on_page: PageHook) -> Iterator[Sequence[ApiModel]]:
    return client.patients.pages(offset=offset, on_page=on_page)


def _changed_patients(
    client: Client, since: str, on_page: PageHook
) -> Iterator[Sequence[ApiModel]]:
    for page in client.patients.changed_pages(since, on_page=on_page):
        yield page.patients


PATIENTS = Resource(
    name="patients",
    table=patients,
    key="pat_num",
    all_pages=_all_patients,
    changed_pages=_changed_patients,
    to_row=patient_row,
    server_time=_patient_server_time,
)
"""Patients: ``GET /patients/Simple`` for everything and for changes since a DateTStamp."""
