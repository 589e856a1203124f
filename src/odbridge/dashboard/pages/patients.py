"""``/patients`` (search, filters, sorting, paging) and ``/patients/{PatNum}`` (one patient
and the family)."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from odbridge.dashboard import queries
from odbridge.dashboard.context import Dashboard, Page, PageRoute
from odbridge.dashboard.pages import visits
from odbridge.dashboard.params import choice_param, int_param, path_id
from odbridge.dashboard.templating import ssn
from odbridge.vocab import contact_method_label

NO_PATIENT = "No such patient in the store."


def shown(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(practice, PatNum) of the rows a page shows, for the audit log."""
    return [(str(row["practice"]), int(row["pat_num"])) for row in rows]


def age_on(birthdate: date | None, today: date) -> int | None:
    """Whole years on ``today`` (None without a birthdate, or one in the future)."""
    if birthdate is None or birthdate > today:
        return None
    return (
        today.year - birthdate.year - ((today.month, today.day) < (birthdate.month, birthdate.day))
    )


def patient_filter(request: Request, practices: queries.Practices) -> queries.PatientFilter:
    """The filter in the query string; 400 for any value that cannot be one."""
    params = request.query_params
    return queries.PatientFilter(
        practice=practices,
        search=params.get("q", "")[:100],
        status=choice_param(params, "status", queries.PAT_STATUSES),
        clinic=int_param(params, "clinic"),
        provider=int_param(params, "provider"),
        include_missing=choice_param(params, "missing", ("0", "1"), "0") == "1",
        sort=choice_param(params, "sort", tuple(queries.SORT_KEYS), "name") or "name",
        descending=choice_param(params, "dir", ("asc", "desc"), "asc") == "desc",
        page=int_param(params, "page", low=1, high=1_000_000) or 1,
        per_page=int_param(params, "per", choices=queries.PER_PAGE_CHOICES) or 50,
    )


def patients(dash: Dashboard, request: Request) -> Page:
    """One page of the patients matching the filters."""
    scope = dash.scope(request)
    f = patient_filter(request, scope.query)
    ov, _ = dash.overview_data(scope)
    known = None
    if not f.search.strip() and not f.include_missing:
        known = ov.count(f.status, f.clinic, f.provider)
    result = queries.search_patients(dash.engine, f, known_total=known)
    dash.audit_view(
        request,
        "patients",
        rows=len(result.rows),
        scope=scope,
        detail=f.audit_detail(),
        pat_nums=shown(result.rows),
    )
    context = {
        "f": f,
        "result": result,
        "clinics": ov.clinics(),
        "providers": ov.providers(),
        "per_page_choices": queries.PER_PAGE_CHOICES,
    }
    data = {
        "practice": scope.chosen,
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "per_page": result.per_page,
        "rows": result.rows,
    }
    return Page("patients.html", "patients", context, data, scope)


def patient(dash: Dashboard, request: Request) -> Page:
    """One patient (chosen practice + PatNum) and the family."""
    pat_num = path_id(str(request.path_params["pat_num"]), NO_PATIENT)
    scope = dash.scope(request)
    if scope.chosen is None:
        raise HTTPException(status_code=404, detail=NO_PATIENT)
    detail = queries.patient_detail(dash.engine, scope.chosen, pat_num)
    if detail is None:
        raise HTTPException(status_code=404, detail=NO_PATIENT)
    dash.audit_view(
        request,
        "patient",
        rows=1 + len(detail.family),
        scope=scope,
        detail=f"pat_num={pat_num}",
        pat_nums=shown([detail.row, *detail.family]),
    )
    found = visits.for_patient(dash, scope.chosen, pat_num)
    years = age_on(detail.row.get("birthdate"), dash.today())
    context = {
        "age": years,
        "p": detail.row,
        "family": detail.family,
        "fields": queries.PATIENT_FIELDS,
        "visits": found,
        "local_time_note": visits.LOCAL_TIME_NOTE,
    }
    row = {**detail.row, "ssn": ssn(detail.row.get("ssn"))}  # as on the page: last four
    data = {
        "patient": row,
        "age": years,
        "contact_preferences": {
            key: contact_method_label(row.get(key)) for key in visits.PREFERENCES
        },
        "family": detail.family,
        "visits": visits.patient_data(found),
    }
    return Page("patient.html", "patients", context, data, scope)


ROUTES = [
    PageRoute("/patients", patients, "patients"),
    PageRoute("/patients/{pat_num}", patient, "patient"),
]
