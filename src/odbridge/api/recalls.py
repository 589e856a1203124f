"""Recalls: ``client.recalls`` and ``client.recall_types``.

``GET /recalls`` has no change filter and Open Dental deletes recall rows outright (its recall
synch adds and removes them), so the only complete read is all of them.

``GET /recalls/List`` is Open Dental's computed Recall List (``client.recall_list``): due
recalls of patients with status Patient, not disabled and not scheduled, with the reminders
sent and the contact to use. It is a view (no RecallNum, no change filter, a due range that
defaults to the office's preferences), so odbridge reads it on demand and does not sync it.
"""

from __future__ import annotations

from datetime import date

from odbridge.api.listing import Listing, QueryValue
from odbridge.api.models_visits import Recall, RecallListEntry, RecallType
from odbridge.api.paging import Page

__all__ = ["RecallList", "RecallTypes", "Recalls"]


class Recalls(Listing[Recall]):
    """``GET /recalls`` (ordered by RecallNum; disabled recalls included)."""

    path = "/recalls"
    model = Recall

    def list(
        self, *, pat_num: int | None = None, offset: int = 0, limit: int | None = None
    ) -> Page[Recall]:
        """Every recall, or one patient's."""
        return self._list({"PatNum": pat_num}, offset=offset, limit=limit)


class RecallTypes(Listing[RecallType]):
    """``GET /recalltypes`` and ``/recalltypes/{RecallTypeNum}``."""

    path = "/recalltypes"
    model = RecallType
    key_name = "RecallTypeNum"

    def get(self, recall_type_num: int) -> RecallType:
        """One recall type; :class:`NotFoundError` if there is none."""
        return self._get(recall_type_num)

    def list(self, *, offset: int = 0, limit: int | None = None) -> Page[RecallType]:
        """Every recall type."""
        return self._list({}, offset=offset, limit=limit)


class RecallList(Listing[RecallListEntry]):
    """``GET /recalls/List``: Open Dental's computed Recall List (read on demand)."""

    path = "/recalls/List"
    model = RecallListEntry

    def list(
        self,
        *,
        date_start: date | None = None,
        date_end: date | None = None,
        prov_num: int | None = None,
        clinic_num: int | None = None,
        recall_type: str | None = None,
        include_reminded: bool | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[RecallListEntry]:
        """Due recalls in ``date_start``..``date_end`` (default: the office's preferences),
        of one recall type by name (e.g. "Prophy"); reminded ones only with
        ``include_reminded``. Dates come as M/d/yyyy and are parsed."""
        filters: dict[str, QueryValue] = {
            "DateStart": date_start,
            "DateEnd": date_end,
            "ProvNum": prov_num,
            "ClinicNum": clinic_num,
            "RecallType": recall_type,
            "IncludeReminded": include_reminded,
        }
        return self._list(filters, offset=offset, limit=limit)
