"""The visit pages: ``/overview`` (the visit figures; ``/overview.json``), ``/schedule``
(today and tomorrow), ``/worklists/{name}`` and their CSV / Excel downloads, and the visits
section of a patient's page.

Times are the practice's local time (Open Dental's server clock), said once on each page.
Every view and download is audited with the PatNums it showed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from odbridge.dashboard.auth import current_user
from odbridge.dashboard.context import Dashboard, Page, PageRoute, Scope
from odbridge.dashboard.params import int_param
from odbridge.dashboard.queries.figure_lists import Entry
from odbridge.dashboard.queries.visit_kpis import (
    KpiSettings,
    VisitKpis,
    VisitSummary,
    compute_kpis,
    visit_summary,
)
from odbridge.dashboard.queries.visit_lists import (
    CONTACT_COLUMNS,
    WORKLISTS,
    PatientVisits,
    day_schedule,
    patient_visits,
    worklist_entries,
    worklist_rows,
)
from odbridge.store import audit
from odbridge.vocab import contact_method_label

LOCAL_TIME_NOTE = "Times are the practice's local time (Open Dental's server clock)."
PER_PAGE = 50
PREFERENCES = ("prefer_contact_method", "prefer_recall_method", "prefer_confirm_method")
SETTINGS = KpiSettings()
now: Callable[[], datetime] = datetime.now
"""The practice's local time (replaceable in tests)."""

CONTACT_LABELS = {
    "lname": "Last name",
    "fname": "First name",
    "preferred": "Preferred",
    "wireless_phone": "Mobile",
    "hm_phone": "Home phone",
    "wk_phone": "Work phone",
    "email": "Email",
    "txt_msg_ok": "Texts OK",
    "prefer_contact_method": "Prefers contact by",
    "prefer_recall_method": "Prefers recall by",
    "prefer_confirm_method": "Prefers confirmation by",
}


def _moment() -> datetime:
    """Now, to the minute (cached figures are shared within the hour's key)."""
    return now().replace(second=0, microsecond=0, tzinfo=None)


def _summary(dash: Dashboard, scope: Scope, at: datetime) -> VisitSummary:
    value: VisitSummary = dash.cache.get(
        ("visit_summary", scope.key, at.date(), at.hour),
        lambda: visit_summary(dash.engine, scope.query, at, active_months=SETTINGS.active_months),
    ).value
    return value


def visit_kpis(dash: Dashboard, scope: Scope) -> tuple[VisitKpis, bool]:
    """The visit figures for the scope (cached per data version and hour)."""
    at = _moment()
    cached = dash.cache.get(
        ("visit_kpis", scope.key, at.date(), at.hour),
        lambda: compute_kpis(
            dash.engine, scope.query, now=at, settings=SETTINGS, summary=_summary(dash, scope, at)
        ),
    )
    return cached.value, cached.stale


def _audit(
    dash: Dashboard,
    request: Request,
    what: str,
    scope: Scope,
    rows: list[dict[str, Any]],
    *,
    action: str = "view",
    detail: str | None = None,
) -> None:
    """One audit entry for the rows shown or downloaded, with their patients (practice,
    PatNum) in the per-patient audit table."""
    keys = [(str(r["practice"]), int(r["pat_num"])) for r in rows if r.get("pat_num")]
    audit.record(
        dash.engine,
        username=current_user(request).username,
        action=action,
        what=what,
        rows=len(rows),
        practice=scope.label,
        detail=detail,
        pat_nums=keys,
    )


def friendly(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with Open Dental's contact-method codes as people say them ("Mobile
    phone", not ``WirelessPh``): what the page, its JSON and the downloads show."""
    out = []
    for row in rows:
        shown = dict(row)
        for key in PREFERENCES:
            if key in shown:
                shown[key] = contact_method_label(shown[key])
        out.append(shown)
    return out


# -- overview ------------------------------------------------------------------------------
def overview_data(kpis: VisitKpis, stale: bool) -> dict[str, Any]:
    """The visit figures as JSON: each with value, definition and trend."""
    series = kpis.as_json()
    return {"computed_at": kpis.now, "times": LOCAL_TIME_NOTE, "stale": stale, **series}


def overview(dash: Dashboard, request: Request) -> Page:
    """The visit figures alone (the overview page also shows them)."""
    scope = dash.scope(request)
    kpis, stale = visit_kpis(dash, scope)
    dash.audit_view(request, "visit overview", rows=0, scope=scope)
    context = {"visits": kpis, "visits_stale": stale, "local_time_note": LOCAL_TIME_NOTE}
    data = {"practice": scope.chosen, **overview_data(kpis, stale)}
    return Page("visits_overview.html", "overview", context, data, scope)


# -- schedule --------------------------------------------------------------------------------
def schedule(dash: Dashboard, request: Request) -> Page:
    """Today's and tomorrow's appointments with their confirmation status."""
    scope = dash.scope(request)
    today = _moment().date()
    days = {
        "today": day_schedule(dash.engine, scope.query, today),
        "tomorrow": day_schedule(dash.engine, scope.query, today + timedelta(days=1)),
    }
    _audit(dash, request, "schedule", scope, [a for rows in days.values() for a in rows])
    data = {"practice": scope.chosen, "times": LOCAL_TIME_NOTE, "today": today, "days": days}
    context = {"today": today, "days": days, "local_time_note": LOCAL_TIME_NOTE}
    return Page("schedule.html", "schedule", context, data, scope)


# -- worklists -------------------------------------------------------------------------------
def _entries(dash: Dashboard, request: Request) -> tuple[str, Scope, list[Entry], bool]:
    name = str(request.path_params["name"])
    if name not in WORKLISTS:
        raise HTTPException(status_code=404, detail="There is no such worklist.")
    scope = dash.scope(request)
    at = _moment()
    summary = _summary(dash, scope, at)
    cached = dash.cache.get(
        ("worklist", name, scope.key, at.date(), at.hour),
        lambda: worklist_entries(
            dash.engine, name, scope.query, now=at, summary=summary, settings=SETTINGS
        ),
    )
    return name, scope, cached.value, cached.stale


def columns_of(name: str) -> list[tuple[str, str]]:
    """A worklist's download columns: PatNum, contact details, then its own."""
    w = WORKLISTS[name]
    contact = [c for c in CONTACT_COLUMNS if not c.startswith("prefer_") or c == w.prefer]
    return [("pat_num", "PatNum"), *((c, CONTACT_LABELS[c]) for c in contact), *w.columns]


def worklist(dash: Dashboard, request: Request) -> Page:
    """One page of a worklist (the JSON twin holds the whole list)."""
    name, scope, entries, stale = _entries(dash, request)
    as_json = request.url.path.endswith(".json")
    pages = max(1, -(-len(entries) // PER_PAGE))
    page = min(int_param(request.query_params, "page", low=1, high=1_000_000) or 1, pages)
    shown = entries if as_json else entries[(page - 1) * PER_PAGE : page * PER_PAGE]
    rows = friendly(worklist_rows(dash.engine, shown, _moment()))
    _audit(dash, request, f"worklist {name}", scope, rows)
    w = WORKLISTS[name]
    cols = columns_of(name)
    data = {
        "worklist": name,
        "title": w.title,
        "definition": w.definition,
        "practice": scope.chosen,
        "times": LOCAL_TIME_NOTE,
        "rows": [{key: r.get(key) for key, _ in cols} for r in rows] if as_json else [],
    }
    context = {
        "w": w,
        "worklists": WORKLISTS,
        "rows": rows,
        "total": len(entries),
        "page": page,
        "pages": pages,
        "stale": stale,
        "contact_labels": CONTACT_LABELS,
        "local_time_note": LOCAL_TIME_NOTE,
    }
    return Page("worklist.html", "worklists", context, data, scope)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _safe_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is prefixed with a quote."""
    value = _plain(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _xlsx(header: list[str], table: list[list[Any]]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("worklist")
    bold = book.add_format({"bold": True})
    for col, label in enumerate(header):
        sheet.write_string(0, col, label, bold)
    for row_index, row in enumerate(table, start=1):
        for col, value in enumerate(row):
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(row_index, col, value)
            else:
                sheet.write_string(row_index, col, str(value))
    book.close()
    return buffer.getvalue()


def download_routes(dash: Dashboard) -> list[BaseRoute]:
    """``/worklists/{name}.csv`` and ``.xlsx``: the whole list, audited as an export."""

    def download(request: Request) -> Response:
        kind = request.url.path.rsplit(".", 1)[-1]
        name, scope, entries, _ = _entries(dash, request)
        rows = friendly(worklist_rows(dash.engine, entries, _moment()))
        cols = columns_of(name)
        _audit(
            dash,
            request,
            f"worklist {name}.{kind}",
            scope,
            rows,
            action="export",
            detail=f"format={kind}",
        )
        table = [[_safe_cell(r.get(key)) for key, _ in cols] for r in rows]
        headers = {
            "Content-Disposition": f'attachment; filename="{name}-{_moment():%Y%m%d}.{kind}"'
        }
        if kind == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow([label for _, label in cols])
            writer.writerows(table)
            return Response(buffer.getvalue(), media_type="text/csv", headers=headers)
        return Response(
            _xlsx([label for _, label in cols], table),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers=headers,
        )

    return [
        Route("/worklists/{name}.csv", download, name="worklist_csv"),
        Route("/worklists/{name}.xlsx", download, name="worklist_xlsx"),
    ]


# -- one patient -----------------------------------------------------------------------------
def for_patient(dash: Dashboard, practice: str, pat_num: int) -> PatientVisits:
    """One patient's last/next visit, recalls, history and treatment plan."""
    return patient_visits(dash.engine, practice, pat_num, now=_moment())


def patient_data(visits: PatientVisits) -> dict[str, Any]:
    """The patient's visits for the JSON twin of the patient page."""
    return {
        "times": LOCAL_TIME_NOTE,
        "last_visit": visits.last_visit,
        "next_visit": visits.next_visit,
        "recalls": visits.recalls,
        "treatment_plan": visits.treatment_plan,
        "visit_history": visits.history,
    }


ROUTES = [
    PageRoute("/overview", overview, "visit_overview"),
    PageRoute("/schedule", schedule, "schedule"),
    PageRoute("/worklists/{name}", worklist, "worklist"),
]
