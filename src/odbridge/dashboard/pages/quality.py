"""``/quality``: lists of patients to fix in Open Dental, one check at a time."""

from __future__ import annotations

from starlette.requests import Request

from odbridge.dashboard import queries
from odbridge.dashboard.context import Dashboard, Page, PageRoute
from odbridge.dashboard.pages.patients import shown
from odbridge.dashboard.params import choice_param, int_param

PER_PAGE = 50


def quality(dash: Dashboard, request: Request) -> Page:
    """One check's patients, a page at a time (the first check with something to fix)."""
    scope = dash.scope(request)
    params = request.query_params
    which: queries.QualityScope = (
        "all" if choice_param(params, "scope", ("active", "all"), "active") == "all" else "active"
    )
    chosen = choice_param(params, "check", tuple(queries.QUALITY_CHECKS))
    wanted_page = int_param(params, "page", low=1, high=1_000_000) or 1
    cached = dash.cache.get(
        ("quality", scope.key, which, dash.today()),
        lambda: queries.quality_keys(dash.engine, scope.query, which),
    )
    check = chosen or next((c for c in queries.QUALITY_CHECKS if cached.value[c]), "duplicates")
    keys = cached.value[check]
    pages = max(1, -(-len(keys) // PER_PAGE))
    page = min(wanted_page, pages)
    rows = queries.rows_for(dash.engine, keys[(page - 1) * PER_PAGE : page * PER_PAGE])
    dash.audit_view(
        request,
        "quality",
        rows=len(rows),
        scope=scope,
        detail=f"check={check} scope={which} page={page}",
        pat_nums=shown(rows),
    )
    counts = {name: len(found) for name, found in cached.value.items()}
    context = {
        "check": check,
        "which": which,
        "counts": counts,
        "rows": rows,
        "total": len(keys),
        "page": page,
        "pages": pages,
        "stale": cached.stale,
    }
    data = {
        "practice": scope.chosen,
        "check": check,
        "scope": which,
        "counts": counts,
        "total": len(keys),
        "page": page,
        "pages": pages,
        "stale": cached.stale,
        "rows": rows,
    }
    return Page("quality.html", "quality", context, data, scope)


ROUTES = [PageRoute("/quality", quality, "quality")]
