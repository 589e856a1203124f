"""``/``: the practice at a glance (counts, charts, balances, birthdays, sync freshness)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from starlette.requests import Request

from odbridge.dashboard import charts
from odbridge.dashboard.context import Dashboard, Page, PageRoute
from odbridge.dashboard.pages import visits


def overview(dash: Dashboard, request: Request) -> Page:
    """The overview of the chosen practice (or of all the user may see)."""
    scope = dash.scope(request)
    ov, stale = dash.overview_data(scope)
    dash.audit_view(
        request,
        "overview",
        rows=len(ov.birthdays),
        scope=scope,
        pat_nums=[(b.practice, b.pat_num) for b in ov.birthdays],
    )
    data = {
        "practice": scope.chosen,
        "stale": stale,
        "total": ov.total,
        "active": ov.active,
        "statuses": ov.statuses,
        "genders": ov.genders(),
        "completeness": ov.completeness(),
        "contact_methods": ov.contact_methods(),
        "by_provider": ov.by_provider(),
        "by_clinic": ov.by_clinic(),
        "balances": ov.balances(),
        "new_by_month": ov.new_by_month,
        "top_cities": ov.top_cities,
        "top_zips": ov.top_zips,
        "birthdays": [asdict(b) for b in ov.birthdays],
        "birthdays_total": ov.birthdays_total,
        "freshness": [asdict(f) for f in ov.freshness],
    }
    context = {
        "ov": ov,
        "stale": stale,
        "figures": charts.overview_figures(ov),
        "plotly_style_ids": dash.assets.plotly_style_ids(),
        "balances": ov.balances(),
        "completeness": ov.completeness(),
        "sync_every": dash.sync_every,
        "now": datetime.now(UTC).replace(tzinfo=None),
    }
    kpis, kpis_stale = visits.visit_kpis(dash, scope)
    context.update(visits=kpis, visits_stale=kpis_stale, local_time_note=visits.LOCAL_TIME_NOTE)
    data["visits"] = visits.overview_data(kpis, kpis_stale)
    return Page("overview.html", "overview", context, data, scope)


ROUTES = [PageRoute("/", overview, "overview")]
