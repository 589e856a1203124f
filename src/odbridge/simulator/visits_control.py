"""``/_simulator/visits...``: control of the visit tables (not part of the API), and the
wiring of visits into the simulator app.

Tests and demos use these to stage what a front desk does (schedule, complete, break,
delete, confirm an appointment; complete or delete a procedure; update or delete a recall)
and to read the whole tables as the source of truth. ``?practice=N`` picks the office.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from odbridge.simulator.control import _bad, _guard, _int_field, _json_body, _office
from odbridge.simulator.reference_api import REFERENCE_ROUTES
from odbridge.simulator.state import Office, SimulatorState
from odbridge.simulator.visit_desk import random_action, schedule
from odbridge.simulator.visit_shape import (
    APPOINTMENT_FIELDS,
    HIST_FIELDS,
    PROCEDURE_FIELDS,
    RECALL_FIELDS,
)
from odbridge.simulator.visits import VisitBook
from odbridge.simulator.visits_api import VISIT_API_ROUTES
from odbridge.simulator.visits_state import VisitRegistry


def install_visits(app: Starlette, state: SimulatorState) -> VisitRegistry:
    """Give the app its visit registry (``app.state.visits``)."""
    registry = VisitRegistry(state.settings.seed)
    app.state.visits = registry
    return registry


def front_desk_tick(registry: VisitRegistry, office: Office) -> int:
    """One visit action for an office's moving front desk (none until its history exists)."""
    visits = registry.made(office)
    if visits is None or not visits.ready:
        return 0
    result = random_action(visits.book(), office.practice.patients)
    return 0 if result.get("skipped") else 1


async def _book(request: Request) -> tuple[Office, VisitBook]:
    office = _office(request)
    registry: VisitRegistry = request.app.state.visits
    return office, await asyncio.to_thread(registry.of(office).book)


def _apply(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except KeyError:
        raise _bad("no such row") from None
    except ValueError as exc:
        raise _bad(str(exc)) from None


async def summary(request: Request) -> Response:
    """Row counts of the office's visit tables."""
    _, book = await _book(request)
    return JSONResponse(
        {
            "appointments": len(book.appointments),
            "histappointments": len(book.hist),
            "procedurelogs": len(book.procedures),
            "recalls": len(book.recalls),
        }
    )


async def changes(request: Request) -> Response:
    """``{"count": K}``: K random front-desk actions now; answers what was done."""
    count = _int_field(await _json_body(request), "count")
    if count < 0:
        raise _bad("'count' cannot be negative")
    office, book = await _book(request)
    done = [random_action(book, office.practice.patients) for _ in range(count)]
    return JSONResponse(done)


async def event(request: Request) -> Response:
    """One named action on one row (see docs/simulator.md for the bodies)."""
    name = request.path_params["name"]
    body = await _json_body(request)
    office, book = await _book(request)
    if name == "schedule":
        patient = office.practice.patients.get(_int_field(body, "PatNum"))
        if patient is None:
            raise _bad("no such patient")
        when = body.get("AptDateTime")
        try:
            moment = datetime.strptime(when, "%Y-%m-%d %H:%M:%S") if when else None
        except (TypeError, ValueError):
            raise _bad("'AptDateTime' must be yyyy-MM-dd HH:mm:ss") from None
        row = _apply(lambda: schedule(book, patient, moment))
        return JSONResponse(dict(zip(APPOINTMENT_FIELDS, row, strict=True)))
    actions: dict[str, tuple[str, Callable[[int], Any]]] = {
        "complete": ("AptNum", book.complete_appointment),
        "break": (
            "AptNum",
            lambda n: book.break_appointment(
                n, bool(body.get("unscheduled")), bool(body.get("missed", True))
            ),
        ),
        "delete": ("AptNum", book.delete_appointment),
        "confirm": ("AptNum", lambda n: book.confirm_appointment(n, str(body.get("confirmed")))),
        "complete-procedure": ("ProcNum", book.complete_procedure),
        "delete-procedure": ("ProcNum", book.delete_procedure),
        "recall": (
            "RecallNum",
            lambda n: book.update_recall(n, body.get("status"), body.get("Note")),
        ),
        "delete-recall": ("RecallNum", book.delete_recall),
    }
    if name not in actions:
        raise _bad(f"unknown visit event '{name}'")
    key, action = actions[name]
    number = _int_field(body, key)
    _apply(lambda: action(number))
    return JSONResponse({"ok": True, key: number})


async def table(request: Request) -> Response:
    """A whole visit table as the API's objects (without serverDateTime): the truth."""
    _, book = await _book(request)
    name = request.path_params["table"]
    if name == "appointments":
        rows = [dict(zip(APPOINTMENT_FIELDS, r, strict=True)) for r in book.appointments.values()]
    elif name == "procedurelogs":
        rows = [dict(zip(PROCEDURE_FIELDS, r, strict=True)) for r in book.procedures.values()]
    elif name == "recalls":
        rows = [dict(zip(RECALL_FIELDS, r, strict=True)) for r in book.recalls.values()]
    elif name == "histappointments":
        fields = HIST_FIELDS + APPOINTMENT_FIELDS
        rows = [dict(zip(fields, r, strict=True)) for r in book.hist]
    else:
        raise _bad(f"unknown visit table '{name}'")
    return JSONResponse(rows)


VISIT_CONTROL_ROUTES = [
    Route("/_simulator/visits", _guard(summary), methods=["GET"]),
    Route("/_simulator/visits/changes", _guard(changes), methods=["POST"]),
    Route("/_simulator/visits/events/{name}", _guard(event), methods=["POST"]),
    Route("/_simulator/visits/{table}", _guard(table), methods=["GET"]),
]

VISIT_ROUTES = [*VISIT_API_ROUTES, *REFERENCE_ROUTES, *VISIT_CONTROL_ROUTES]
"""Every route visits add: the API endpoints and their control endpoints."""
