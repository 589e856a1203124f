"""What the sync engine needs to know about a resource: one description per endpoint.

Adding an Open Dental resource (appointments, procedure logs, recalls, providers, clinics)
means one more :class:`Resource` and its table, not another engine. A resource is either

- **incremental**: ``fetch_changed`` reads rows changed at or after a cursor (a
  ``DateTStamp`` filter); full and reconcile passes use ``fetch_page``; or
- **full-reload only** (``fetch_changed=None``): every run reads every page.

How rows the source stopped listing are treated is chosen per resource (:class:`Deletions`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Table

from odbridge.api.client import Client
from odbridge.api.errors import NotFoundError
from odbridge.api.models import ApiModel, Patient, PatStatus
from odbridge.api.paging import Page
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients

__all__ = ["PATIENTS", "Deletions", "Resource", "Row", "patient_row", "row_digest"]

Row = dict[str, Any]


class Deletions(StrEnum):
    """What a completed full or reconcile pass does with stored rows it did not list."""

    CONFIRM = "confirm"
    """Ask for each one by key (``fetch_one``): a record that comes back is stored as it is
    now (a patient whose status became Deleted); only a 404 marks it ``missing_since``."""
    MARK_MISSING = "mark_missing"
    """Mark them ``missing_since`` (kept, never deleted): for listings that return every
    row, such as reference tables."""
    IGNORE = "ignore"
    """Leave them: for listings that are not complete (e.g. a date window)."""


@dataclass(frozen=True)
class Resource:
    """A syncable resource.

    - ``fetch_page(client, offset, limit)``: one page of the complete listing, validated row
      by row: the resource's ``list(offset=offset, limit=limit)`` (one request).
    - ``fetch_changed(client, since, offset, limit)``: one page of rows changed at or after
      ``since`` (the API's DateTime text, server local time); None for full-reload only.
    - ``to_row(model)``: the table row (key column included), without bookkeeping columns.
    - ``key``: the key column of ``table`` (and attribute of the model), e.g. ``pat_num``.
    - ``ordered_by_key``: the listing is ordered by the key, so Offset drift is detected.
    - ``deletions``: see :class:`Deletions`; ``CONFIRM`` needs ``fetch_one``.
    - ``fetch_one(client, key)``: the record now, None when the API answers 404; raises
      ``ResponseFormatError`` when it does not validate. Also retries quarantined rows.
    - ``settled(table)``: rows a pass need not confirm again (patients already Deleted).

    ``table`` must have the bookkeeping columns of ``patients``: ``practice``, the key,
    ``row_hash``, ``extra``, ``first_seen_at``, ``last_synced_at``, ``missing_since``,
    ``seen_pass``.
    """

    name: str
    table: Table
    key: str
    fetch_page: Callable[[Client, int, int], Page[ApiModel]]
    to_row: Callable[[ApiModel], Row]
    fetch_changed: Callable[[Client, str, int, int], Page[ApiModel]] | None = None
    ordered_by_key: bool = False
    deletions: Deletions = Deletions.MARK_MISSING
    fetch_one: Callable[[Client, int], ApiModel | None] | None = None
    settled: Callable[[Table], ColumnElement[bool]] | None = None

    def __post_init__(self) -> None:
        if self.deletions is Deletions.CONFIRM and self.fetch_one is None:
            raise ValueError(f"{self.name}: confirming deletions needs fetch_one")
        if self.key not in self.table.c:
            raise ValueError(f"{self.name}: {self.key} is not a column of {self.table.name}")

    @property
    def incremental(self) -> bool:
        """True when the resource can read only what changed since a cursor."""
        return self.fetch_changed is not None

    def key_of(self, model: ApiModel) -> int:
        """The model's key."""
        return int(getattr(model, self.key))


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


_PATIENT_VALUES = itemgetter(*PATIENT_FIELD_NAMES)
_ENUM_PLACES = tuple(PATIENT_FIELD_NAMES.index(name) for name in _ENUM_FIELDS)


def patient_row(model: ApiModel) -> Row:
    """A Patient as a ``patients`` row: typed columns, unknown fields in ``extra``.

    Enum members become plain text (database drivers would otherwise store their names).
    """
    values = list(_PATIENT_VALUES(model.__dict__))
    for place in _ENUM_PLACES:
        value = values[place]
        if isinstance(value, Enum):
            values[place] = value._value_
    extra = dict(model.__pydantic_extra__) if model.__pydantic_extra__ else None
    row: Row = dict(zip(PATIENT_FIELD_NAMES, values, strict=True))
    row["row_hash"] = row_digest(tuple(values), extra)
    row["extra"] = extra
    return row


def _patient_page(client: Client, offset: int, limit: int) -> Page[ApiModel]:
    return client.patients.list(offset=offset, limit=limit)


def _changed_patients(client: Client, since: str, offset: int, limit: int) -> Page[ApiModel]:
    return client.patients.list(changed_since=since, offset=offset, limit=limit)


def _one_patient(client: Client, pat_num: int) -> Patient | None:
    try:
        return client.patients.get(pat_num)
    except NotFoundError:
        return None


def _deleted(table: Table) -> ColumnElement[bool]:
    return table.c.pat_status == PatStatus.DELETED.value


PATIENTS = Resource(
    name="patients",
    table=patients,
    key="pat_num",
    fetch_page=_patient_page,
    fetch_changed=_changed_patients,
    to_row=patient_row,
    ordered_by_key=True,  # GetPatientsSimpleForApi: ORDER BY PatNum
    deletions=Deletions.CONFIRM,
    fetch_one=_one_patient,
    settled=_deleted,
)
"""Patients: ``GET /patients/Simple`` for everything and for changes since a DateTStamp;
``GET /patients/{PatNum}`` to confirm one that stopped being listed (Deleted since 21.4)."""
