"""``/_simulator/...``: introspection and control of a running simulator (not part of the API).

Tests, benchmarks and demos use these to read request statistics, switch faults, move data
and stage practice events (merge, delete, a new family member, renames of reference rows,
deletions in the middle of a pass, a row the client should refuse) while a client is running.
With several practices, ``?practice=N`` (from 1; default 1) picks the one an event is for.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from odbridge.simulator.faults import FaultSettings
from odbridge.simulator.openapi import openapi_document
from odbridge.simulator.practice import Practice
from odbridge.simulator.state import Office, ScheduledDeletion, SimulatorState, Stats


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


def _office(request: Request) -> Office:
    """The office named by ``?practice=N`` (from 1), the first by default."""
    offices = _state(request).offices
    raw = request.query_params.get("practice", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= len(offices):
        raise _bad(f"'practice' must be a number from 1 to {len(offices)}")
    return offices[int(raw) - 1]


def _practice(request: Request) -> Practice:
    return _office(request).practice


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    return body


class _BadControlRequestError(Exception):
    pass


def _bad(message: str) -> _BadControlRequestError:
    return _BadControlRequestError(message)


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{name}' must be a whole number")
    return value


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"'{name}' must be a non-empty string")
    return value


async def stats(request: Request) -> Response:
    """Request counts: total, by status, throttled, faults by kind, by endpoint."""
    state = _state(request)
    body = state.stats.as_json()
    body["patients"] = len(_practice(request).patients)
    return JSONResponse(body)


async def reset_stats(request: Request) -> Response:
    """Zero the counters (between phases of a test)."""
    _state(request).stats = Stats()
    return JSONResponse({"ok": True})


async def faults(request: Request) -> Response:
    """GET the fault settings, or PUT new ones (JSON of FaultSettings)."""
    state = _state(request)
    if request.method == "PUT":
        try:
            settings = FaultSettings.model_validate(await _json_body(request))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise _bad(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        if settings.total() > 1.0:
            raise _bad("the fault probabilities add up to more than 1")
        state.faults.configure(settings)
    return JSONResponse(state.faults.settings.model_dump())


async def changes(request: Request) -> Response:
    """Update ``count`` random patients now (bumping DateTStamp); answers their PatNums."""
    state = _state(request)
    count = _int_field(await _json_body(request), "count")
    if count < 0:
        raise _bad("'count' cannot be negative")
    touched = _office(request).front_desk.edit(count)
    state.stats.changes += len(touched)
    return JSONResponse({"PatNums": touched})


async def merge(request: Request) -> Response:
    """Merge patient ``from`` into ``into``: the merged-from patient becomes Archived."""
    body = await _json_body(request)
    try:
        _practice(request).merge(_int_field(body, "from"), _int_field(body, "into"))
    except KeyError as exc:
        raise _bad(str(exc)) from None
    return JSONResponse({"ok": True})


async def delete(request: Request) -> Response:
    """Delete a patient as Open Dental does: PatStatus Deleted, Guarantor its own PatNum."""
    pat_num = _int_field(await _json_body(request), "PatNum")
    practice = _practice(request)
    if practice.row(pat_num) is None:
        raise _bad("no such patient")
    practice.delete(pat_num)
    _state(request).stats.deletions += 1
    return JSONResponse({"ok": True})


async def delete_later(request: Request) -> Response:
    """Schedule deletions in the middle of a pass: after ``after_requests`` more answered
    ``GET /patients/Simple`` requests, delete ``PatNums`` (or the ``count`` live patients
    with the lowest PatNums). ``GET`` lists what is scheduled and what it deleted."""
    office = _office(request)
    if request.method == "GET":
        return JSONResponse([item.as_json() for item in office.scheduled])
    body = await _json_body(request)
    after = _int_field(body, "after_requests")
    pat_nums = body.get("PatNums", [])
    count = body.get("count", len(pat_nums) if isinstance(pat_nums, list) else 0)
    if after < 0:
        raise _bad("'after_requests' cannot be negative")
    if not isinstance(pat_nums, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in pat_nums
    ):
        raise _bad("'PatNums' must be a list of whole numbers")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise _bad("give 'PatNums' or a positive 'count'")
    item = ScheduledDeletion(office.simple_requests + after, count, list(pat_nums))
    office.scheduled.append(item)
    office.run_due()  # after_requests 0: now
    return JSONResponse(item.as_json(), status_code=201)


async def bad_row(request: Request) -> Response:
    """Store a value the client's models should refuse (default: Birthdate ``1985-13-45``)
    in one patient, bypassing every check; bumps its DateTStamp."""
    body = await _json_body(request)
    pat_num = _int_field(body, "PatNum")
    name = body.get("field", "Birthdate")
    value = body.get("value", "1985-13-45")
    if not isinstance(name, str):
        raise _bad("'field' must be a patient field name")
    try:
        _practice(request).inject(pat_num, name, value)
    except KeyError:
        raise _bad("no such patient") from None
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return JSONResponse({"PatNum": pat_num, "field": name})


async def rename_provider(request: Request) -> Response:
    """``{"ProvNum": n, "Abbr": "..."}``: patients' priProvAbbr/secProvAbbr follow, their
    DateTStamp does not move."""
    body = await _json_body(request)
    return _rename(
        lambda p: p.rename_provider(_int_field(body, "ProvNum"), _text_field(body, "Abbr")), request
    )


async def rename_clinic(request: Request) -> Response:
    """``{"ClinicNum": n, "Abbr": "...", "Description": "..."}`` (Description optional)."""
    body = await _json_body(request)
    description = body.get("Description")
    if description is not None and not isinstance(description, str):
        raise _bad("'Description' must be a string")
    return _rename(
        lambda p: p.rename_clinic(
            _int_field(body, "ClinicNum"), _text_field(body, "Abbr"), description
        ),
        request,
    )


async def rename_definition(request: Request) -> Response:
    """``{"DefNum": n, "ItemName": "..."}``: e.g. rename a billing type (category 4)."""
    body = await _json_body(request)
    return _rename(
        lambda p: p.rename_definition(_int_field(body, "DefNum"), _text_field(body, "ItemName")),
        request,
    )


async def rename_site(request: Request) -> Response:
    """``{"SiteNum": n, "Description": "..."}``."""
    body = await _json_body(request)
    return _rename(
        lambda p: p.rename_site(_int_field(body, "SiteNum"), _text_field(body, "Description")),
        request,
    )


def _rename(action: Any, request: Request) -> Response:
    try:
        action(_practice(request))
    except KeyError as exc:
        raise _bad(str(exc).strip("'\"")) from None
    return JSONResponse({"ok": True})


async def reference(request: Request) -> Response:
    """The reference tables: providers, clinics, definitions and sites, as stored."""
    practice = _practice(request)
    return JSONResponse(
        {
            "providers": [asdict(p) for p in practice.providers],
            "clinics": [asdict(c) for c in practice.clinics],
            "definitions": [asdict(d) for d in practice.definitions],
            "sites": [asdict(s) for s in practice.sites],
        }
    )


async def purge(request: Request) -> Response:
    """Remove a patient's row outright (outside the API's powers): for reconciliation tests."""
    pat_num = _int_field(await _json_body(request), "PatNum")
    practice = _practice(request)
    if practice.row(pat_num) is None:
        raise _bad("no such patient")
    practice.purge(pat_num)
    return JSONResponse({"ok": True})


async def family_member(request: Request) -> Response:
    """Add a new child to the family of ``Guarantor``; answers the new record."""
    guarantor = _int_field(await _json_body(request), "Guarantor")
    office = _office(request)
    if office.practice.row(guarantor) is None:
        raise _bad("no such patient")
    row = office.front_desk.add_family_member(guarantor)
    return JSONResponse(office.practice.render(row), status_code=201)


async def customer_key(request: Request) -> Response:
    """Enable or disable a customer key: ``{"customer_key": "...", "enabled": false}``."""
    body = await _json_body(request)
    key, enabled = body.get("customer_key"), body.get("enabled")
    if not isinstance(key, str) or not isinstance(enabled, bool):
        raise _bad("expected {'customer_key': str, 'enabled': bool}")
    keys = _state(request).disabled_keys
    if enabled:
        keys.discard(key)
    else:
        keys.add(key)
    return JSONResponse({"ok": True})


async def all_patients(request: Request) -> Response:
    """Every patient's full record by PatNum, streamed: the source of truth for comparisons."""
    practice = _practice(request)

    async def rows() -> AsyncIterator[bytes]:
        yield b"["
        for index, record in enumerate(practice.records()):
            yield (b"," if index else b"") + json.dumps(record, ensure_ascii=False).encode()
        yield b"]"

    return StreamingResponse(rows(), media_type="application/json")


async def openapi(request: Request) -> Response:
    """The OpenAPI 3 description of the patient endpoints (for schema-driven fuzzing)."""
    return JSONResponse(openapi_document())


async def health(request: Request) -> Response:
    """Liveness."""
    return JSONResponse({"ok": True})


def _guard(endpoint: Any) -> Any:
    async def guarded(request: Request) -> Response:
        try:
            response: Response = await endpoint(request)
        except _BadControlRequestError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return response

    guarded.__doc__ = endpoint.__doc__
    return guarded


CONTROL_ROUTES = [
    Route("/_simulator/health", _guard(health), methods=["GET"]),
    Route("/_simulator/stats", _guard(stats), methods=["GET"]),
    Route("/_simulator/stats/reset", _guard(reset_stats), methods=["POST"]),
    Route("/_simulator/faults", _guard(faults), methods=["GET", "PUT"]),
    Route("/_simulator/changes", _guard(changes), methods=["POST"]),
    Route("/_simulator/events/merge", _guard(merge), methods=["POST"]),
    Route("/_simulator/events/delete", _guard(delete), methods=["POST"]),
    Route("/_simulator/events/purge", _guard(purge), methods=["POST"]),
    Route("/_simulator/events/family-member", _guard(family_member), methods=["POST"]),
    Route("/_simulator/events/delete-later", _guard(delete_later), methods=["GET", "POST"]),
    Route("/_simulator/events/bad-row", _guard(bad_row), methods=["POST"]),
    Route("/_simulator/events/rename-provider", _guard(rename_provider), methods=["POST"]),
    Route("/_simulator/events/rename-clinic", _guard(rename_clinic), methods=["POST"]),
    Route("/_simulator/events/rename-definition", _guard(rename_definition), methods=["POST"]),
    Route("/_simulator/events/rename-site", _guard(rename_site), methods=["POST"]),
    Route("/_simulator/reference", _guard(reference), methods=["GET"]),
    Route("/_simulator/keys", _guard(customer_key), methods=["POST"]),
    Route("/_simulator/patients", _guard(all_patients), methods=["GET"]),
    Route("/_simulator/openapi.json", _guard(openapi), methods=["GET"]),
]
