"""The practice dashboard: a Starlette app, server-rendered with Jinja2, reading only the store.

Pages (``odbridge.dashboard.pages``): ``/`` (overview), ``/patients`` (search and filters),
``/patients/{PatNum}`` (one patient and the family), ``/quality`` (lists to fix in Open
Dental), ``/audit`` (admins). Each is also served as JSON at its path + ``.json``
(``/index.json`` for the overview). Charts are drawn in the browser by plotly.js, served from
the copy in the plotly wheel. Every page showing patient data writes an audit entry: page
name, rows shown, filter names (never a search text).

    app = create_app(engine, secret_key=key)     # any ASGI server
    serve(engine, host="127.0.0.1", port=8000)    # uvicorn, see odbridge.dashboard.server
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from odbridge.dashboard.auth import AuthMiddleware, LoginHandlers
from odbridge.dashboard.context import Dashboard, Page, PageRoute
from odbridge.dashboard.pages import PAGES, visits
from odbridge.dashboard.security import (
    CatchErrors,
    RequestGuard,
    SecurityHeaders,
    SessionCodec,
    allowed_host_names,
    log,
)
from odbridge.dashboard.templating import Renderer
from odbridge.dashboard.throttle import HashGate, LoginThrottle

try:
    from starlette.middleware.body_limit import RequestBodyLimitMiddleware
except ImportError:  # pragma: no cover - Starlette before 1.0
    RequestBodyLimitMiddleware = None  # type: ignore[assignment,misc]

DEFAULT_IDLE_TIMEOUT = timedelta(minutes=30)
MAX_BODY = 64 * 1024
JSON_SUFFIX = ".json"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def json_response(data: Any, status_code: int = 200) -> Response:
    """``data`` as JSON (dates ISO 8601, money as strings)."""
    body = json.dumps(data, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status_code, media_type="application/json")


def wants_json(request: Request) -> bool:
    """True for a page's JSON twin (path + ``.json``)."""
    return request.url.path.endswith(JSON_SUFFIX)


class PageEndpoints:
    """Turns page handlers into endpoints: HTML through the template, or JSON."""

    def __init__(self, dash: Dashboard, render: Renderer) -> None:
        self.dash = dash
        self.render = render

    def html(self, page: Page, request: Request) -> Response:
        context: dict[str, Any] = {"nav": page.nav}
        if page.scope is not None:
            context.update(practice=page.scope.chosen, practices=page.scope.visible)
        context.update(page.context)
        response = self.render(request, page.template, context, page.status_code)
        response.headers.update(page.headers)
        return response

    def endpoint(
        self, route: PageRoute, *, as_json: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        async def serve_page(request: Request) -> Response:
            page = await run_in_threadpool(route.handler, self.dash, request)
            if as_json:
                return json_response(page.data, page.status_code)
            return self.html(page, request)

        return serve_page

    def routes(self, pages: tuple[PageRoute, ...]) -> list[BaseRoute]:
        """Each page's JSON twin, then the page (so ``/patients/1.json`` is not PatNum
        '1.json')."""
        found: list[BaseRoute] = []
        for page in pages:
            found.append(Route(page.json_path, self.endpoint(page, as_json=True)))
            found.append(Route(page.path, self.endpoint(page, as_json=False), name=page.name))
        return found


class ErrorPages:
    """The error page (or JSON) for an HTTP error (a 500 is :class:`CatchErrors`'s)."""

    MESSAGES: ClassVar[dict[int, str]] = {
        400: "The request could not be understood.",
        403: "You do not have access to this page.",
        404: "There is nothing here.",
        405: "That is not allowed here.",
    }

    def __init__(self, render: Renderer) -> None:
        self.render = render

    async def http_error(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
            raise exc
        message = self.MESSAGES.get(exc.status_code, "The request could not be served.")
        if exc.detail and exc.status_code in (400, 403, 404):
            message = str(exc.detail)
        if wants_json(request):
            return json_response({"error": message, "status": exc.status_code}, exc.status_code)
        return self.render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message},
            status_code=exc.status_code,
        )


def create_app(
    engine: Engine,
    *,
    secret_key: bytes | None = None,
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
    secure_cookies: bool = False,
    sync_every: timedelta | None = None,
    warm: bool = True,
    clock: Callable[[], float] = time.time,
    allowed_hosts: Iterable[str] = (),
    max_concurrent_logins: int = 4,
    throttle: LoginThrottle | None = None,
) -> Starlette:
    """The dashboard as an ASGI app over the store behind ``engine``.

    - ``secret_key``: signs session cookies (32+ random bytes). None: a new key per process,
      so sessions end when the server restarts.
    - ``idle_timeout``: a session unused this long ends.
    - ``secure_cookies``: mark cookies Secure and send HSTS (served over TLS, directly or
      behind a TLS proxy).
    - ``sync_every``: the sync schedule, if known, to show when the next sync is due.
    - ``warm``: compute the overview figures in the background at startup.
    - ``clock``: dates sessions and measures their idleness (injected in tests).
    - ``allowed_hosts``: Host names answered besides loopback's (a LAN or proxy name);
      any other name gets 400 (DNS rebinding).
    - ``max_concurrent_logins``: password checks at once (64 MiB each); more get 503.
    - ``throttle``: the login throttle (tests pass one with a fake clock).
    """
    if secret_key is not None and len(secret_key) < 16:
        raise ValueError("secret_key needs at least 16 bytes; use secrets.token_bytes(32).")
    secret = secret_key or secrets.token_bytes(32)
    dash = Dashboard(engine, sync_every=sync_every)
    render = Renderer()
    codec = SessionCodec(secret, idle_timeout=idle_timeout, secure=secure_cookies, clock=clock)
    login = LoginHandlers(
        engine, codec, render, throttle=throttle, gate=HashGate(max_concurrent_logins)
    )
    errors = ErrorPages(render)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm:
            try:
                dash.warm()
            except Exception:  # an unreachable store shows on the first page instead
                log.exception("could not start computing the dashboard figures")
        yield
        dash.cache.close()

    routes: list[BaseRoute] = [
        Route("/login", login.login_form, methods=["GET"], name="login"),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"], name="logout"),
        *visits.download_routes(dash),
        *PageEndpoints(dash, render).routes(PAGES),
        *dash.assets.routes(),
    ]
    # outermost first: headers on every response (errors and refusals included), then the
    # error catcher, then the host and same-origin checks before anything reads the request
    middleware = [
        Middleware(SecurityHeaders, hsts=secure_cookies),
        Middleware(CatchErrors),
        Middleware(RequestGuard, allowed_hosts=allowed_host_names(allowed_hosts)),
        Middleware(AuthMiddleware, engine=engine, codec=codec),
    ]
    if RequestBodyLimitMiddleware is not None:  # Starlette 1.x: no form is larger than 64 KiB
        middleware.insert(3, Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: errors.http_error},
        lifespan=lifespan,
    )
    app.state.dashboard = dash
    app.state.login = login
    return app
