"""The patient read endpoints of the simulated Open Dental API (``/api/v1/patients...``).

The queries follow Open Dental's own code: ``GET /patients/Simple`` is
``Patients.GetPatientsSimpleForApi`` and ``GET /patients`` the Patient Select search,
``Patients.GetPtDataTable``. Where neither the source nor the documentation speaks, the
choice is a guess, listed in docs/simulator.md. Writes are in ``patients_write``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odbridge.simulator.http import ApiError, Query, json_response, page_of
from odbridge.simulator.patients_write import patient_create, patient_update
from odbridge.simulator.practice import Practice, Row
from odbridge.simulator.shape import GENDERS, PAT_STATUSES, POSITIONS
from odbridge.simulator.state import office_of, practice_of, settings_of

Predicate = Callable[[Row], bool]

NOT_FOUND_MESSAGE = "Patient not found."


def _starts(field: str, prefix: str) -> Predicate:
    lowered = prefix.lower()
    return lambda row: str(row[field]).lower().startswith(lowered)


def _contains(field: str, part: str) -> Predicate:
    lowered = part.lower()
    return lambda row: lowered in str(row[field]).lower()


def _equals(field: str, value: Any) -> Predicate:
    return lambda row: row[field] == value


def _digits(text: Any) -> str:
    return re.sub(r"\D", "", str(text))


# -- GET /patients/Simple ---------------------------------------------------------------
async def patients_simple(request: Request) -> Response:
    """``GetPatientsSimpleForApi``: full rows, ``serverDateTime`` first, ORDER BY PatNum.

    The server's clock is read once, before the query; Deleted patients are left out
    (from 21.4; earlier versions return them).
    """
    query = Query(request)
    office = office_of(request)
    practice = office.practice
    settings = settings_of(request)
    limit, offset = query.paging(settings.page_cap)
    server_time = practice.now_text()  # SELECT NOW() runs before the patient query
    predicates: list[Predicate] = []
    if settings.simple_hides_deleted:
        predicates.append(lambda row: row["PatStatus"] != "Deleted")
    if (stamp := query.datetime("DateTStamp")) is not None:
        # Same fixed-width text form: text order is time order. Inclusive (>=) [src].
        predicates.append(lambda row: str(row["DateTStamp"]) >= stamp)
    if (value := query.text("LName")) is not None:
        predicates.append(_contains("LName", value))
    if (value := query.text("FName")) is not None:
        predicates.append(_contains("FName", value))
    if (value := query.enum("PatStatus", PAT_STATUSES)) is not None:
        predicates.append(_equals("PatStatus", value))
    if (value := query.date("Birthdate")) is not None:
        predicates.append(_equals("Birthdate", value))
    if (value := query.enum("Gender", GENDERS)) is not None:
        predicates.append(_equals("Gender", value))
    if (value := query.enum("Position", POSITIONS)) is not None:
        predicates.append(_equals("Position", value))
    for name in ("ClinicNum", "PriProv", "Guarantor", "SuperFamily", "EmployerNum", "FeeSched"):
        if (number := query.integer(name)) is not None:
            predicates.append(_equals(name, number))
    rows = (r for r in practice.rows() if all(p(r) for p in predicates))
    page = [
        {"serverDateTime": server_time, **practice.render(row)}
        for row in page_of(rows, limit, offset)
    ]
    office.after_simple_request()
    return json_response(page)


# -- GET /patients (Patient Select search) -----------------------------------------------
def _phone_matches(wanted: str) -> Predicate:
    """The typed digits, in order, anywhere in a phone (punctuation between them allowed);
    from four digits on, a leading 1 is optional, as in ``GetPtDataTable``."""
    options = {wanted}
    if len(wanted) > 3:
        options.add(wanted[1:] if wanted.startswith("1") else wanted)
    fields = ("HmPhone", "WkPhone", "WirelessPhone")
    return lambda row: any(o in _digits(row[f]) for f in fields for o in options)


def _search_predicates(query: Query, practice: Practice) -> tuple[list[Predicate], list[Predicate]]:
    """The WHERE clauses of the search, and the clauses of an exact match (ordered first)."""
    hidden = {"Deleted"}
    if query.boolean("hideInactive"):
        hidden.add("Inactive")
    if not query.boolean("showArchived"):
        hidden.update(("Archived", "Deceased"))
    where: list[Predicate] = [lambda row: row["PatStatus"] not in hidden]
    exact: list[Predicate] = []
    if query.boolean("guarOnly"):
        where.append(lambda row: row["Guarantor"] == row["PatNum"])
    for name in ("LName", "FName", "City", "State", "SSN", "ChartNumber"):
        if (value := query.text(name)) is not None:
            where.append(_starts(name, value))
            exact.append(_equals_folded(name, value))
    for name in ("Email", "Country"):
        if (value := query.text(name)) is not None:
            where.append(_contains(name, value))
            exact.append(_equals_folded(name, value))
    if (address := query.text("Address")) is not None:
        # Punctuation and spaces in the typed address match anything ("12 N Main" finds
        # "12 N. Main St.").
        pattern = re.compile(
            ".*".join(re.escape(p) for p in re.split(r"[-.,:;_\"'/\\)(#\s&]+", address)),
            re.IGNORECASE,
        )
        where.append(lambda row: pattern.search(str(row["Address"])) is not None)
        exact.append(_equals_folded("Address", address))
    if (phone := query.text("Phone")) is not None and (wanted := _digits(phone)):
        where.append(_phone_matches(wanted))
        exact.append(lambda row: phone in (row["HmPhone"], row["WkPhone"], row["WirelessPhone"]))
    if (value := query.date("Birthdate")) is not None:
        where.append(_equals("Birthdate", value))
        exact.append(_equals("Birthdate", value))
    if (site := query.integer("SiteNum")) is not None and site != 0:
        where.append(_equals("SiteNum", site))
    if (clinic_list := query.text("clinicNums")) is not None:
        try:
            clinics = {int(part) for part in clinic_list.split(",") if part.strip()}
        except ValueError:
            raise ApiError(400, "clinicNums must be a comma-separated list of numbers.") from None
        clinics.add(0)  # patients assigned to no clinic are always included [src]
        where.append(lambda row: row["ClinicNum"] in clinics)
    if (abbr := query.text("clinicAbbr")) is not None:
        lowered = abbr.lower()
        where.append(
            lambda row: (
                bool(practice.clinic(row["ClinicNum"]))
                and practice.clinic_abbr(row["ClinicNum"]).lower().startswith(lowered)
            )
        )
    for name in ("SubscriberId", "invoiceNumber"):
        if query.text(name) is not None:
            where.append(lambda row: False)  # no insurance or invoices simulated
    return where, exact


def _equals_folded(field: str, value: str) -> Predicate:
    lowered = value.lower()
    return lambda row: str(row[field]).lower() == lowered


async def patients_search(request: Request) -> Response:
    """``GetPtDataTable``: reduced rows; exact matches first, then LName, FName."""
    query = Query(request)
    practice = practice_of(request)
    limit, offset = query.paging(settings_of(request).page_cap)
    where, exact = _search_predicates(query, practice)
    matches = [r for r in practice.rows() if all(p(r) for p in where)]

    def order(row: Row) -> tuple[bool, str, str, int]:
        is_exact = bool(exact) and all(p(row) for p in exact)
        return (not is_exact, str(row["LName"]).lower(), str(row["FName"]).lower(), row["PatNum"])

    matches.sort(key=order)
    return json_response(
        [practice.render_summary(row) for row in page_of(iter(matches), limit, offset)]
    )


# -- GET /patients/{PatNum} ---------------------------------------------------------------
def pat_num_of(request: Request) -> int:
    """The PatNum in the URL; 400 when it is not a number."""
    raw = request.path_params["pat_num"]
    if not re.fullmatch(r"\d+", raw):
        raise ApiError(400, "PatNum is invalid.")
    return int(raw)


async def patient_get(request: Request) -> Response:
    """The full record, Deleted patients included; 404 "Patient not found." when absent."""
    record = practice_of(request).get(pat_num_of(request))
    if record is None:
        raise ApiError(404, NOT_FOUND_MESSAGE)
    return json_response(record)


async def patient_delete(request: Request) -> Response:
    """Patients cannot be deleted through the API [doc] (405 with an explanation: guess)."""
    raise ApiError(
        405,
        "Patients cannot be deleted through the API. Set PatStatus to Deleted in Open Dental.",
        headers={"Allow": "GET, PUT"},
    )


async def _update(request: Request) -> Response:
    return await patient_update(request, pat_num_of(request))


ROUTES = [
    Route("/api/v1/patients/Simple", patients_simple, methods=["GET"]),
    Route("/api/v1/patients", patients_search, methods=["GET"]),
    Route("/api/v1/patients", patient_create, methods=["POST"]),
    Route("/api/v1/patients/{pat_num}", patient_get, methods=["GET"]),
    Route("/api/v1/patients/{pat_num}", _update, methods=["PUT"]),
    Route("/api/v1/patients/{pat_num}", patient_delete, methods=["DELETE"]),
]
