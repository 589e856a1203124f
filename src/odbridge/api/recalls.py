"""Recalls: ``client.recalls`` and ``client.recall_types``.

``GET /recalls`` has no change filter and Open Dental deletes recall rows outright (its recall
synch adds and removes them), so the only complete read is all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge.api.listing import ListEndpoint
from odbridge.api.models_visits import Recall, RecallType

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["recall_types", "recalls"]


def recalls(client: Client) -> ListEndpoint[Recall]:
    """``GET /recalls`` (ordered by RecallNum; disabled recalls included)."""
    return ListEndpoint(client, "/recalls", Recall, ("PatNum",))


def recall_types(client: Client) -> ListEndpoint[RecallType]:
    """``GET /recalltypes`` and ``/recalltypes/{RecallTypeNum}``."""
    return ListEndpoint(
        client, "/recalltypes", RecallType, (), single=True, key_name="RecallTypeNum"
    )
