"""What the sync engine needs to know about a resource: one description per endpoint.

Adding an Open Dental resource (appointments, procedure logs, recalls, providers, clinics)
means one more :class:`Resource` and its table, not another engine. A resource is either

- **incremental**: ``fetch_changed`` reads rows changed at or after a cursor (a
  ``DateTStamp`` filter); full and reconcile passes use ``fetch_page``; or
- **full-reload only** (``fetch_changed=None``): every run reads every page.

How rows the source stopped listing are treated is chosen per resource (:class:`Deletions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter

from sqlalchemy import ColumnElement, Table

from odbridge.api.client import Client
from odbridge.api.errors import NotFoundError
from odbridge.api.models import ApiModel, Patient, PatStatus
from odbridge.api.paging import Page
from odbridge.store.schema import patients
from odbridge.sync.decode import PageDecoder
from odbridge.sync.rowform import RowForm, StoreRow

__all__ = ["PATIENTS", "Deletions", "Resource"]


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

    - ``fetch_page(client, offset, limit)``: one page of the complete listing as store rows
      (one request; rows that do not validate are in the page's ``rejected``).
    - ``fetch_changed(client, since, offset, limit)``: one page of rows changed at or after
      ``since`` (the API's DateTime text, server local time); None for full-reload only.
    - ``form``: the table and its key column (also the model's attribute, e.g. ``pat_num``),
      and how a model becomes a row (:class:`~odbridge.sync.rowform.RowForm`).
    - ``ordered_by_key``: the listing is ordered by the key, so Offset drift is detected.
    - ``deletions``: see :class:`Deletions`; ``CONFIRM`` needs ``fetch_one``.
    - ``fetch_one(client, key)``: the record now, None when the API answers 404; raises
      ``ResponseFormatError`` when it does not validate. Also retries quarantined rows.
    - ``settled(table)``: rows a pass need not confirm again (patients already Deleted).
    """

    name: str
    form: RowForm
    fetch_page: Callable[[Client, int, int], Page[StoreRow]]
    fetch_changed: Callable[[Client, str, int, int], Page[StoreRow]] | None = None
    ordered_by_key: bool = False
    deletions: Deletions = Deletions.MARK_MISSING
    fetch_one: Callable[[Client, int], ApiModel | None] | None = None
    settled: Callable[[Table], ColumnElement[bool]] | None = None

    def __post_init__(self) -> None:
        if self.deletions is Deletions.CONFIRM and self.fetch_one is None:
            raise ValueError(f"{self.name}: confirming deletions needs fetch_one")

    @property
    def table(self) -> Table:
        """The resource's table."""
        return self.form.table

    @property
    def key(self) -> str:
        """The key column (and the model's attribute), e.g. ``pat_num``."""
        return self.form.key

    @property
    def incremental(self) -> bool:
        """True when the resource can read only what changed since a cursor."""
        return self.fetch_changed is not None

    key_of = staticmethod(itemgetter(0))
    """A row's key: ``StoreRow.key``, its first item (read in C, not by a Python call)."""


_PATIENT_FORM = RowForm(patients, "pat_num")
_PATIENT_PAGES = PageDecoder(Patient, _PATIENT_FORM)


def _patient_page(client: Client, offset: int, limit: int) -> Page[StoreRow]:
    return client.patients.list_rows(_PATIENT_PAGES.parse, offset=offset, limit=limit)


def _changed_patients(client: Client, since: str, offset: int, limit: int) -> Page[StoreRow]:
    return client.patients.list_rows(
        _PATIENT_PAGES.parse, changed_since=since, offset=offset, limit=limit
    )


def _one_patient(client: Client, pat_num: int) -> Patient | None:
    try:
        return client.patients.get(pat_num)
    except NotFoundError:
        return None


def _deleted(table: Table) -> ColumnElement[bool]:
    return table.c.pat_status == PatStatus.DELETED.value


PATIENTS = Resource(
    name="patients",
    form=_PATIENT_FORM,
    fetch_page=_patient_page,
    fetch_changed=_changed_patients,
    ordered_by_key=True,  # GetPatientsSimpleForApi: ORDER BY PatNum
    deletions=Deletions.CONFIRM,
    fetch_one=_one_patient,
    settled=_deleted,
)
"""Patients: ``GET /patients/Simple`` for everything and for changes since a DateTStamp;
``GET /patients/{PatNum}`` to confirm one that stopped being listed (Deleted since 21.4)."""
