"""Recalls: ``client.recalls`` and ``client.recall_types``.

``GET /recalls`` has no change filter and Open Dental deletes recall rows outright (its recall
synch adds and removes them), so the only complete read is all of them.

``GET /recalls/List`` is Open Dental's computed Recall List (``client.recall_list``): due
recalls of patients with status Patient, not disabled and not scheduled, with the reminders
sent and the contact to use. It is a view (no RecallNum, no change filter, a due range that
defaults to the office's preferences), so odbridge reads it on demand and does not sync it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge.api.listing import ListEndpoint
from odbridge.api.models_visits import Recall, RecallListEntry, RecallType

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["recall_list", "recall_types", "recalls"]


def recalls(client: Client) -> ListEndpoint[Recall]:
    """``GET /recalls`` (ordered by RecallNum; disabled recalls included)."""
    return ListEndpoint(client, "/recalls", Recall, ("PatNum",))


def recall_types(client: Client) -> ListEndpoint[RecallType]:
    """``GET /recalltypes`` and ``/recalltypes/{RecallTypeNum}``."""
    return ListEndpoint(
        client, "/recalltypes", RecallType, (), single=True, key_name="RecallTypeNum"
    )


def recall_list(client: Client) -> ListEndpoint[RecallListEntry]:
    """``GET /recalls/List``: the Recall List, filtered by ``date_start``/``date_end`` (due
    range), ``prov_num``, ``clinic_num``, ``recall_type`` (a name such as "Prophy") and
    ``include_reminded``; dates come as M/d/yyyy and are parsed."""
    return ListEndpoint(
        client,
        "/recalls/List",
        RecallListEntry,
        ("DateStart", "DateEnd", "ProvNum", "ClinicNum", "RecallType", "IncludeReminded"),
    )
