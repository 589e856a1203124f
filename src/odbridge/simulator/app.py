"""The simulator as an ASGI app: the Open Dental API's gatekeeping around the patient routes.

Every ``/api/v1`` request passes, in order (guess: the real order is not documented):
authentication (401), the Content-Type header (400), the per-customer-key throttle (429 or
held), then fault injection (eConnector 400, 500, 504, slow, reset, truncated, malformed),
then the endpoint. ``/_simulator/...`` holds the introspection and control endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from odbridge.simulator.control import CONTROL_ROUTES
from odbridge.simulator.faults import FaultInjector, FaultKind
from odbridge.simulator.generate import FrontDesk, generate_practice
from odbridge.simulator.http import ApiError
from odbridge.simulator.patients_api import ROUTES
from odbridge.simulator.practice import Practice
from odbridge.simulator.settings import SimulatorSettings
from odbridge.simulator.state import OFFICE_SCOPE_KEY, Office, SimulatorState
from odbridge.simulator.throttle import Throttle
from odbridge.simulator.visits_control import VISIT_ROUTES, front_desk_tick, install_visits
from odbridge.simulator.visits_state import VisitRegistry, add_visit_reference

log = logging.getLogger("odbridge.simulator")

ECONNECTOR_MESSAGE = (
    "The eConnector for this office is not running or could not be reached. "
    "Start the eConnector service at the office and try again."
)
NETWORK_MESSAGE = (
    "The request could not reach the dental office: its network failed or timed out. "
    "Try again later."
)
SIMPLE_NOT_FOUND_MESSAGE = "No patients were found."
ODFHIR_FORMAT = "ODFHIR {DeveloperKey}/{CustomerKey}"


class Gatekeeper:
    """ASGI middleware: auth, Content-Type, throttle, faults and stats for ``/api/v1``."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = self.state
        state.stats.requests += 1
        if state.stats.first_request_at is None:
            state.stats.first_request_at = time.time()
        state.stats.by_endpoint[f"{scope['method']} {_endpoint(scope['path'])}"] += 1
        status = await self._serve(scope, receive, send)
        state.stats.by_status[status] += 1
        state.stats.last_answer_at = time.time()
        # One line per request: method, path, parameter names only (values can be PHI).
        names = sorted(
            {part.split(b"=")[0].decode() for part in scope["query_string"].split(b"&") if part}
        )
        log.info(
            "%s %s%s %d %.1fms",
            scope["method"],
            scope["path"],
            "?" + "&".join(names) if names else "",
            status,
            (time.perf_counter() - started) * 1000,
        )

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> int:
        request = Request(scope)
        try:
            office = self._authenticate(request)
            scope[OFFICE_SCOPE_KEY] = office
            content_type = request.headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise ApiError(
                    400, "Content-Type header must be application/json on every request."
                )
            await self._throttle(office.customer_key)
        except ApiError as error:
            return await _send_response(error.response(), scope, receive, send)
        fault = self.state.faults.draw()
        if fault == "notfound404" and not _is_simple(scope):
            fault = None  # only the list endpoint answers this way
        if fault is not None:
            self.state.stats.faults[fault] += 1
        return await self._with_fault(fault, scope, receive, send)

    def _authenticate(self, request: Request) -> Office:
        """The office of a valid ODFHIR header's customer key; 401 otherwise (messages are
        guesses)."""
        settings = self.state.settings
        header = request.headers.get("authorization", "").strip()
        if not header:
            raise ApiError(401, f"Authorization header is missing. Expected: {ODFHIR_FORMAT}")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic" and settings.accept_basic:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except ValueError:
                raise ApiError(401, "Invalid Basic credentials.") from None
            developer, sep, customer = decoded.partition(":")
        elif scheme == "ODFHIR":
            developer, sep, customer = credentials.strip().partition("/")
        else:
            raise ApiError(
                401,
                f"Authorization scheme '{scheme}' is not supported. Use: {ODFHIR_FORMAT}",
            )
        if not sep or not developer or not customer:
            raise ApiError(401, f"Authorization header is malformed. Expected: {ODFHIR_FORMAT}")
        if not hmac.compare_digest(developer, settings.developer_key.get_secret_value()):
            raise ApiError(401, "Invalid DeveloperKey.")
        if customer in self.state.disabled_keys:
            raise ApiError(401, "This CustomerKey has been disabled.")
        for office in self.state.offices:
            if hmac.compare_digest(customer, office.customer_key):
                return office
        raise ApiError(401, "Invalid CustomerKey.")

    async def _throttle(self, customer_key: str) -> None:
        settings = self.state.settings
        decision = self.state.throttle.admit(customer_key, delay=settings.throttle == "delay")
        if decision.rejected:
            self.state.stats.throttled += 1
            raise ApiError(
                429,
                "Too many requests. Slow down to the rate your API permissions allow.",
                headers={"Retry-After": str(decision.retry_after)},
            )
        if decision.wait > 0:
            self.state.stats.throttled += 1
            await asyncio.sleep(decision.wait)

    async def _with_fault(
        self, fault: FaultKind | None, scope: Scope, receive: Receive, send: Send
    ) -> int:
        faults = self.state.faults.settings
        if fault == "econnector":
            return await _send_response(
                ApiError(400, ECONNECTOR_MESSAGE).response(), scope, receive, send
            )
        if fault == "network400":
            return await _send_response(
                ApiError(400, NETWORK_MESSAGE).response(), scope, receive, send
            )
        if fault == "notfound404":
            error = ApiError(404, SIMPLE_NOT_FOUND_MESSAGE)
            return await _send_response(error.response(), scope, receive, send)
        if fault == "error500":
            error = ApiError(500, "An unexpected error occurred on the server.")
            return await _send_response(error.response(), scope, receive, send)
        if fault == "timeout":
            await asyncio.sleep(faults.timeout_seconds)
            error = ApiError(504, "The request did not finish in time. Request fewer rows.")
            return await _send_response(error.response(), scope, receive, send)
        if fault == "slow":
            await asyncio.sleep(faults.slow_seconds)
        status, headers, body = await _capture(self.app, scope, receive)
        if fault == "malformed":
            body = b'[{"PatNum": 1, "LName": <html>Service Unavailable'
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if fault == "reset":
            return await _abort(send, b"", status)
        if fault == "truncated":
            return await _abort(send, body[: len(body) // 2], status)
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return status


def _is_simple(scope: Scope) -> bool:
    return bool(scope["method"] == "GET" and scope["path"].rstrip("/") == "/api/v1/patients/Simple")


def _endpoint(path: str) -> str:
    """``/api/v1/patients/12`` → ``/patients/{PatNum}``: a path without ids."""
    parts = path.removeprefix("/api/v1").split("/")
    return "/".join("{PatNum}" if part.isdigit() else part for part in parts)


async def _abort(send: Send, partial: bytes, status: int) -> int:
    """Send less body than Content-Length says and end: the server drops the connection."""
    with contextlib.suppress(Exception):
        await send({"type": "http.response.body", "body": partial, "more_body": True})
    raise _ConnectionDroppedError(status)


class _ConnectionDroppedError(Exception):
    """Raised to make uvicorn close the connection mid-response (a simulated reset)."""

    def __init__(self, status: int) -> None:
        super().__init__("simulated connection drop")
        self.status = status


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
    """Run ``app`` and collect its response, so a fault can mangle it before it is sent."""
    status = 500
    headers: list[Any] = []
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return status, headers, b"".join(chunks)


async def _send_response(response: Response, scope: Scope, receive: Receive, send: Send) -> int:
    await response(scope, receive, send)
    return response.status_code


async def _api_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiError):  # pragma: no cover - registered for ApiError only
        raise exc
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
        raise exc
    if request.url.path.startswith("/api/v1"):
        message = "Resource not found." if exc.status_code == 404 else exc.detail
        return ApiError(exc.status_code, message, dict(exc.headers or {})).response()
    return Response(exc.detail, status_code=exc.status_code)


def make_offices(settings: SimulatorSettings, practice: Practice | None = None) -> list[Office]:
    """One office per customer key: practice ``i`` (from 1) is generated from ``seed + i - 1``
    (names and places from the pools of ``seed``, shared); ``practice``, when given, is the
    first one."""

    def maker(index: int) -> Callable[[], tuple[Practice, FrontDesk]]:
        seed = settings.seed + index

        def make() -> tuple[Practice, FrontDesk]:
            if index == 0 and practice is not None:
                data = practice
            else:
                data = generate_practice(settings.patients, seed, pool_seed=settings.seed)
            add_visit_reference(data)  # the providers, clinic and definitions visits use
            return data, FrontDesk(data, seed, pool_seed=settings.seed)

        return make

    offices = [
        Office(index + 1, key, maker(index)) for index, key in enumerate(settings.customer_keys())
    ]
    offices[0].practice  # noqa: B018 # the first practice is made at start, as before
    return offices


def create_app(
    settings: SimulatorSettings,
    practice: Practice | None = None,
    throttle_clock: Callable[[], float] = time.monotonic,
) -> ASGIApp:
    """The simulator app for ``settings``; generates the practices (``practice``, when given,
    serves as the first). ``throttle_clock`` (seconds) paces the keys (injected in tests)."""
    state = SimulatorState(
        settings=settings,
        offices=make_offices(settings, practice),
        faults=FaultInjector(settings.faults),
        throttle=Throttle(settings.interval, settings.rate_grace, clock=throttle_clock),
        disabled_keys={k.get_secret_value() for k in settings.disabled_customer_keys},
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = None
        if settings.changes_per_minute > 0:
            task = asyncio.create_task(_change_traffic(state, app.state.visits))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    inner = Starlette(
        routes=[*ROUTES, *VISIT_ROUTES, *CONTROL_ROUTES],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    inner.state.sim = state
    install_visits(inner, state)
    return _DropAware(Gatekeeper(inner, state), state)


class _DropAware:
    """Outermost layer: counts a simulated drop and lets uvicorn close the connection quietly."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except _ConnectionDroppedError as drop:
            self.state.stats.by_status[drop.status] += 1
            log.info("%s %s dropped mid-response (fault)", scope.get("method"), scope.get("path"))


async def _change_traffic(state: SimulatorState, visits: VisitRegistry) -> None:
    """The moving front desk: ``changes_per_minute`` changes per practice, evenly spread;
    a share of them (``delete_share``) deletes a patient, the rest are edits."""
    settings = state.settings
    pause = 60.0 / settings.changes_per_minute
    while True:
        await asyncio.sleep(pause)
        for office in state.offices:
            if not office.made:
                continue  # nobody has asked for it yet: its changes would go unseen
            touched = office.front_desk.tick(settings.delete_share)
            patients = office.practice.patients  # edits never touch Deleted patients
            deleted = [n for n in touched if patients[n]["PatStatus"] == "Deleted"]
            state.stats.changes += len(touched) + front_desk_tick(visits, office)
            state.stats.deletions += len(deleted)
