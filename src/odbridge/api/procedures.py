"""Procedure logs: ``client.procedure_logs``.

``GET /procedurelogs`` is ordered by ProcNum, newest first, and returns every status: a
procedure is never deleted, its ProcStatus becomes "D" (and its DateTStamp moves), so the
``DateTStamp`` change query sees deletions.
"""

from __future__ import annotations

from odbridge.api.listing import Listing, QueryValue, Since
from odbridge.api.models_visits import ProcedureLog, ProcStatus
from odbridge.api.paging import Page

__all__ = ["ProcedureLogs"]


class ProcedureLogs(Listing[ProcedureLog]):
    """``GET /procedurelogs`` and ``/procedurelogs/{ProcNum}``."""

    path = "/procedurelogs"
    model = ProcedureLog
    key_name = "ProcNum"

    def get(self, proc_num: int) -> ProcedureLog:
        """One procedure; :class:`NotFoundError` if there is none."""
        return self._get(proc_num)

    def list(
        self,
        *,
        changed_since: Since | None = None,
        pat_num: int | None = None,
        apt_num: int | None = None,
        proc_status: ProcStatus | None = None,
        planned_apt_num: int | None = None,
        clinic_num: int | None = None,
        code_num: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[ProcedureLog]:
        """Procedures of every status (deleted ones have ProcStatus D)."""
        filters: dict[str, QueryValue] = {
            "PatNum": pat_num,
            "AptNum": apt_num,
            "ProcStatus": proc_status,
            "PlannedAptNum": planned_apt_num,
            "ClinicNum": clinic_num,
            "CodeNum": code_num,
        }
        return self._list(filters, changed_since=changed_since, offset=offset, limit=limit)
