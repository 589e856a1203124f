"""The administrators' tool: the audit log (who viewed or exported what, and when).

Only users with the ``admin`` role get an answer, as on the dashboard's ``/audit`` page.
Entries hold names of pages, tools, filters and PatNums, never patient fields.
"""

from __future__ import annotations

from dataclasses import asdict

from odbridge.mcp.access import AccessError, Caller
from odbridge.mcp.common import Row, ToolEnv, clamp_page, plain_row
from odbridge.store import audit


def audit_log(env: ToolEnv, caller: Caller, *, page: int = 1, per_page: int = 50) -> Row:
    """One page of the audit log, newest first."""
    if not caller.user.is_admin:
        raise AccessError("The audit log is for administrators.")
    page, per_page = clamp_page(page, per_page)
    found = audit.entries(env.writer, limit=per_page + 1, offset=(page - 1) * per_page)
    shown, more = found[:per_page], len(found) > per_page
    audit.record(
        env.writer,
        username=caller.user.username,
        action="view",
        what="mcp:audit_log",
        detail=f"mcp page={page}",
    )
    return {
        "entries": [plain_row(asdict(e)) for e in shown],
        "page": page,
        "per_page": per_page,
        "returned": len(shown),
        "truncated": more,
        "next_page": page + 1 if more else None,
    }
