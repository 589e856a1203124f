"""``/audit``: the audit log, newest first (administrators only)."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request

from odbridge.dashboard.auth import current_user
from odbridge.dashboard.context import Dashboard, Page, PageRoute
from odbridge.dashboard.params import int_param
from odbridge.store import audit

PER_PAGE = 100


def audit_page(dash: Dashboard, request: Request) -> Page:
    """One page of the audit log."""
    dash.require_admin(request, "audit")
    page = int_param(request.query_params, "page", low=1, high=1_000_000) or 1
    found = audit.entries(dash.engine, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    audit.record(
        dash.engine,
        username=current_user(request).username,
        action="view",
        what="audit",
        detail=f"page={page}",
    )
    entries, more = found[:PER_PAGE], len(found) > PER_PAGE
    context = {"entries": entries, "page": page, "more": more}
    data = {"page": page, "more": more, "entries": [asdict(e) for e in entries]}
    return Page("audit.html", "audit", context, data)


ROUTES = [PageRoute("/audit", audit_page, "audit")]
