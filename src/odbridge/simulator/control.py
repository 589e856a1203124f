"""``/_simulator/...``: introspection and control of a running simulator (not part of the API).

Tests, benchmarks and demos use these to read request statistics, switch faults, move data
and stage practice events (merge, delete, a new family member) while a client is running.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from odbridge.simulator.faults import FaultSettings
from odbridge.simulator.openapi import openapi_document
from odbridge.simulator.state import SimulatorState, Stats


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


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


async def stats(request: Request) -> Response:
    """Request counts: total, by status, throttled, faults by kind, by endpoint."""
    state = _state(request)
    body = state.stats.as_json()
    body["patients"] = len(state.practice.patients)
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
    touched = state.practice.touch_random(count)
    state.stats.changes += len(touched)
    return JSONResponse({"PatNums": touched})


async def merge(request: Request) -> Response:
    """Merge patient ``from`` into ``into``: the merged-from patient becomes Archived."""
    body = await _json_body(request)
    try:
        _state(request).practice.merge(_int_field(body, "from"), _int_field(body, "into"))
    except KeyError as exc:
        raise _bad(str(exc)) from None
    return JSONResponse({"ok": True})


async def delete(request: Request) -> Response:
    """Mark a patient Deleted, as deleting in Open Dental does."""
    pat_num = _int_field(await _json_body(request), "PatNum")
    practice = _state(request).practice
    if practice.get(pat_num) is None:
        raise _bad("no such patient")
    practice.mark_deleted(pat_num)
    return JSONResponse({"ok": True})


async def purge(request: Request) -> Response:
    """Remove a patient's row outright (outside the API's powers): for reconciliation tests."""
    pat_num = _int_field(await _json_body(request), "PatNum")
    practice = _state(request).practice
    if practice.get(pat_num) is None:
        raise _bad("no such patient")
    practice.purge(pat_num)
    return JSONResponse({"ok": True})


async def family_member(request: Request) -> Response:
    """Add a new child to the family of ``Guarantor``; answers the new record."""
    guarantor = _int_field(await _json_body(request), "Guarantor")
    practice = _state(request).practice
    if practice.get(guarantor) is None:
        raise _bad("no such patient")
    return JSONResponse(practice.add_family_member(guarantor), status_code=201)


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
    practice = _state(request).practice

    async def rows() -> AsyncIterator[bytes]:
        yield b"["
        for index, record in enumerate(list(practice.in_order())):
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
    Route("/_simulator/keys", _guard(customer_key), methods=["POST"]),
    Route("/_simulator/patients", _guard(all_patients), methods=["GET"]),
    Route("/_simulator/openapi.json", _guard(openapi), methods=["GET"]),
]
