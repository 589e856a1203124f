"""The visit endpoints: ``/appointments``, ``/histappointments``, ``/procedurelogs``,
``/recalls``, ``/recalls/List`` and ``/recalltypes``.

Filters, orderings and field orders follow ``../shared/opendental-visits.md`` (Open Dental's
documentation and the ``...ForApi`` queries of its source); choices the sources leave open
are marked "guess" here and in docs/simulator.md.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odbridge.simulator.http import ApiError, Query, json_response, page_of
from odbridge.simulator.state import office_of, settings_of
from odbridge.simulator.visit_recalls import recall_list, recall_type_named
from odbridge.simulator.visit_shape import (
    APPOINTMENT_FIELDS,
    APT,
    APT_STATUSES,
    HIST_ACTIONS,
    HIST_FIELDS,
    HIST_STATUSES,
    PROC,
    PROC_STATUSES,
    PROCEDURE_FIELDS,
    RECALL,
    RECALL_FIELDS,
    RECALL_TYPES,
    RECALLTYPE_FIELDS,
)
from odbridge.simulator.visits import Row, VisitBook, fmt_datetime
from odbridge.simulator.visits_state import PracticeVisits, VisitRegistry

Predicate = Callable[[Row], bool]
_HIST_ALL = HIST_FIELDS + APPOINTMENT_FIELDS
_HIST_OFFSET = len(HIST_FIELDS)


def visits_of(request: Request) -> PracticeVisits:
    """The visits of the request's office."""
    registry: VisitRegistry = request.app.state.visits
    return registry.of(office_of(request))


async def book_of(request: Request) -> VisitBook:
    """The office's visit tables; waits (off the event loop) while they are being built."""
    visits = visits_of(request)
    if not visits.ready:
        return await asyncio.to_thread(visits.book)
    return visits.book()


def _cap(request: Request) -> int:
    return settings_of(request).page_cap


def server_time(book: VisitBook) -> str:
    """``serverDateTime``: the server's clock, read once per request before the query."""
    return fmt_datetime(book.now())


def stamp_since(query: Query) -> str | None:
    """``DateTStamp``: ``yyyy-MM-dd HH:mm:ss``, or a bare date meaning its midnight (the
    documentation's own example passes one; guess that it is accepted)."""
    value = query.text("DateTStamp")
    if value is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += " 00:00:00"
    try:
        return fmt_datetime(datetime.strptime(value, "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        raise ApiError(400, "DateTStamp format must be yyyy-MM-dd HH:mm:ss") from None


def day_range(query: Query, prefix: str = "date") -> tuple[str, str] | None:
    """``[start, end)`` as datetime text from ``date`` or ``dateStart``/``dateEnd``
    (``dateEnd`` inclusive: its next day is the bound). None when no date was given."""
    single = query.date(prefix)
    start = query.date(f"{prefix}Start")
    end = query.date(f"{prefix}End")
    if single is not None:
        start = end = single
    if start is None and end is None:
        return None
    low = f"{start} 00:00:00" if start else "0001-01-01 00:00:00"
    high = "9999-12-31 23:59:59"
    if end is not None:
        high = f"{date.fromisoformat(end) + timedelta(days=1)} 00:00:00"
    if low >= high:
        raise ApiError(400, "dateStart must not be after dateEnd.")
    return low, high


def _equals(index: int, value: Any) -> Predicate:
    return lambda row: row[index] == value


def _path_num(request: Request, name: str) -> int:
    raw = request.path_params["num"]
    if not re.fullmatch(r"\d+", raw):
        raise ApiError(400, f"{name} is invalid.")
    return int(raw)


# -- appointments ------------------------------------------------------------------------
def appointment_filters(query: Query) -> list[Predicate]:
    """The filters of ``GET /appointments`` (Appointments.GetAppointmentsForApi)."""
    checks: list[Predicate] = []
    if (since := stamp_since(query)) is not None:
        checks.append(lambda r: r[APT["DateTStamp"]] >= since)
    if (span := day_range(query)) is not None:
        low, high = span
        checks.append(lambda r: low <= r[APT["AptDateTime"]] < high)
    clinic = query.integer("ClinicNum")
    if clinic is not None and clinic > -1:
        checks.append(lambda r: r[APT["ClinicNum"]] == clinic)
    pat_num = query.integer("PatNum")
    if pat_num is not None and pat_num > 0:
        checks.append(lambda r: r[APT["PatNum"]] == pat_num)
    if (status := query.enum("AptStatus", APT_STATUSES)) is not None:
        checks.append(lambda r: r[APT["AptStatus"]] == status)
    op = query.integer("Op")
    if op is not None and op > -1:
        checks.append(lambda r: r[APT["Op"]] == op)
    type_num = query.integer("AppointmentTypeNum")
    if type_num is not None:
        checks.append(lambda r: r[APT["AppointmentTypeNum"]] == type_num)
    return checks


def render_appointment(row: Row, now: str) -> dict[str, Any]:
    """The API object: ``serverDateTime`` first, then the 34 fields."""
    record: dict[str, Any] = {"serverDateTime": now}
    record.update(zip(APPOINTMENT_FIELDS, row, strict=True))
    return record


async def appointments(request: Request) -> Response:
    """``GET /appointments``: ORDER BY AptDateTime, AptNum; every status."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    checks = appointment_filters(query)
    book = await book_of(request)
    now = server_time(book)
    rows = (r for r in book.appointments_in_order() if all(c(r) for c in checks))
    return json_response([render_appointment(r, now) for r in page_of(rows, limit, offset)])


async def appointment(request: Request) -> Response:
    """``GET /appointments/{AptNum}``; 404 for an unknown (or deleted) appointment."""
    apt_num = _path_num(request, "AptNum")
    book = await book_of(request)
    now = server_time(book)
    row = book.appointments.get(apt_num)
    if row is None:
        raise ApiError(404, "Appointment not found.")
    return json_response(render_appointment(row, now))


# -- histappointments --------------------------------------------------------------------
async def histappointments(request: Request) -> Response:
    """``GET /histappointments``: ORDER BY HistApptNum; dates filter AptDateTime."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    checks: list[Predicate] = []
    if (action := query.enum("HistApptAction", HIST_ACTIONS)) is not None:
        checks.append(lambda r: r[3] == action)
    for name in ("AptNum", "PatNum", "ClinicNum"):
        if (number := query.integer(name)) is not None:
            index = _HIST_OFFSET + APT[name]
            checks.append(_equals(index, number))
    if (status := query.enum("AptStatus", HIST_STATUSES)) is not None:
        checks.append(lambda r: r[_HIST_OFFSET + APT["AptStatus"]] == status)
    if (span := day_range(query)) is not None:
        low, high = span
        checks.append(lambda r: low <= r[_HIST_OFFSET + APT["AptDateTime"]] < high)
    book = await book_of(request)
    rows = (r for r in list(book.hist) if all(c(r) for c in checks))
    page = page_of(rows, limit, offset)
    return json_response([dict(zip(_HIST_ALL, r, strict=True)) for r in page])


# -- procedurelogs -----------------------------------------------------------------------
def render_procedure(row: Row, now: str) -> dict[str, Any]:
    """The API object: the 40 fields, then ``serverDateTime`` last."""
    record: dict[str, Any] = dict(zip(PROCEDURE_FIELDS, row, strict=True))
    record["serverDateTime"] = now
    return record


async def procedurelogs(request: Request) -> Response:
    """``GET /procedurelogs``: ORDER BY ProcNum DESC; deleted (D) procedures included."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    checks: list[Predicate] = []
    if (since := stamp_since(query)) is not None:
        checks.append(lambda r: r[PROC["DateTStamp"]] >= since)
    for name in ("PatNum", "AptNum", "PlannedAptNum", "CodeNum"):
        number = query.integer(name)
        if number is not None and number > 0:  # guess: 0 means "not given", as for PatNum
            checks.append(_equals(PROC[name], number))
    clinic = query.integer("ClinicNum")
    if clinic is not None and clinic > -1:
        checks.append(lambda r: r[PROC["ClinicNum"]] == clinic)
    if (status := query.enum("ProcStatus", PROC_STATUSES)) is not None:
        checks.append(lambda r: r[PROC["ProcStatus"]] == status)
    book = await book_of(request)
    now = server_time(book)
    rows = (r for r in reversed(list(book.procedures.values())) if all(c(r) for c in checks))
    return json_response([render_procedure(r, now) for r in page_of(rows, limit, offset)])


async def procedurelog(request: Request) -> Response:
    """``GET /procedurelogs/{ProcNum}``; 404 when unknown."""
    proc_num = _path_num(request, "ProcNum")
    book = await book_of(request)
    now = server_time(book)
    row = book.procedures.get(proc_num)
    if row is None:
        raise ApiError(404, "ProcedureLog not found.")
    return json_response(render_procedure(row, now))


# -- recalls -----------------------------------------------------------------------------
async def recalls(request: Request) -> Response:
    """``GET /recalls``: ORDER BY RecallNum; disabled recalls included; no serverDateTime."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    pat_num = query.integer("PatNum")
    book = await book_of(request)
    if pat_num is not None and pat_num not in office_of(request).practice.patients:
        raise ApiError(404, "Patient not found.")  # guess: the 404 the docs list
    rows: Iterator[Row] = iter(list(book.recalls.values()))
    if pat_num is not None:
        rows = (r for r in rows if r[RECALL["PatNum"]] == pat_num)
    page = page_of(rows, limit, offset)
    return json_response([dict(zip(RECALL_FIELDS, r, strict=True)) for r in page])


async def recalls_list(request: Request) -> Response:
    """``GET /recalls/List``: the computed Recall List (M/d/yyyy dates)."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    start, end = query.date("DateStart"), query.date("DateEnd")
    type_name = query.text("RecallType")
    types = [t for t in RECALL_TYPES if t.in_list]
    if type_name is not None:
        found = recall_type_named(type_name)
        if found is None:
            raise ApiError(400, "RecallType is invalid.")
        types = [found]
    prov_num = query.integer("ProvNum")
    clinic_num = query.integer("ClinicNum")
    include = query.boolean("IncludeReminded")
    book = await book_of(request)
    practice = office_of(request).practice
    rows = recall_list(
        book,
        practice.patients,
        today=book.now().date(),
        start=date.fromisoformat(start) if start else None,
        end=date.fromisoformat(end) if end else None,
        prov_num=prov_num,
        clinic_num=clinic_num,
        types=types,
        include_reminded=include,
    )
    return json_response(page_of(iter(rows), limit, offset))


def _recall_type_record(index: int) -> dict[str, Any]:
    t = RECALL_TYPES[index]
    values = (t.num, t.description, t.interval, t.pattern, t.procedures, "false")
    return dict(zip(RECALLTYPE_FIELDS, values, strict=True))


async def recalltypes(request: Request) -> Response:
    """``GET /recalltypes``: ORDER BY RecallTypeNum."""
    limit, offset = Query(request).paging(_cap(request))
    rows = (_recall_type_record(i) for i in range(len(RECALL_TYPES)))
    return json_response(page_of(rows, limit, offset))


async def recalltype(request: Request) -> Response:
    """``GET /recalltypes/{RecallTypeNum}``; 404 when unknown."""
    num = _path_num(request, "RecallTypeNum")
    for index, recall_type in enumerate(RECALL_TYPES):
        if recall_type.num == num:
            return json_response(_recall_type_record(index))
    raise ApiError(404, "RecallType not found.")


VISIT_API_ROUTES = [
    Route("/api/v1/appointments", appointments, methods=["GET"]),
    Route("/api/v1/appointments/{num}", appointment, methods=["GET"]),
    Route("/api/v1/histappointments", histappointments, methods=["GET"]),
    Route("/api/v1/procedurelogs", procedurelogs, methods=["GET"]),
    Route("/api/v1/procedurelogs/{num}", procedurelog, methods=["GET"]),
    Route("/api/v1/recalls/List", recalls_list, methods=["GET"]),
    Route("/api/v1/recalls", recalls, methods=["GET"]),
    Route("/api/v1/recalltypes", recalltypes, methods=["GET"]),
    Route("/api/v1/recalltypes/{num}", recalltype, methods=["GET"]),
]
