"""Procedure logs: ``client.procedure_logs``.

``GET /procedurelogs`` is ordered by ProcNum, newest first, and returns every status: a
procedure is never deleted, its ProcStatus becomes "D" (and its DateTStamp moves), so the
``DateTStamp`` change query sees deletions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge.api.listing import ListEndpoint
from odbridge.api.models_visits import ProcedureLog

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["PROCEDURE_FILTERS", "procedure_logs"]

PROCEDURE_FILTERS = (
    "PatNum",
    "AptNum",
    "ProcStatus",
    "PlannedAptNum",
    "ClinicNum",
    "CodeNum",
    "DateTStamp",
)


def procedure_logs(client: Client) -> ListEndpoint[ProcedureLog]:
    """``GET /procedurelogs`` and ``/procedurelogs/{ProcNum}``."""
    return ListEndpoint(
        client, "/procedurelogs", ProcedureLog, PROCEDURE_FILTERS, single=True, key_name="ProcNum"
    )
