"""``odbridge mcp --http``: the MCP server over streamable HTTP, behind the dashboard's login.

- ``POST /login`` with ``{"username": ..., "password": ...}`` (JSON or a form) checks the
  password like the dashboard (same users, same throttling, same audit entries) and answers
  ``{"token": ..., "token_type": "Bearer", "expires_in": seconds}``.
- ``/mcp`` (the MCP endpoint) needs ``Authorization: Bearer <token>``; without it: 401.
  A token is a signed session (the dashboard's codec, under a key of its own derived from
  the dashboard's secret) naming a session the store keeps; it ends after ``TOKEN_LIFETIME``,
  at ``POST /logout``, and when the user's password changes or the user is disabled.
- Every request's Host must be this machine's name and a POST must not come from another
  site (the dashboard's :class:`RequestGuard`); the SDK checks ``/mcp``'s Origin too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import uvicorn
from mcp.server.fastmcp import FastMCP
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from odbridge.dashboard.auth import _known_user
from odbridge.dashboard.security import (
    ABSOLUTE_LIFETIME,
    RequestGuard,
    Session,
    SessionCodec,
    allowed_host_names,
)
from odbridge.dashboard.throttle import LoginThrottle
from odbridge.mcp.access import AccessError, Caller
from odbridge.serving import BackgroundServer
from odbridge.store import audit
from odbridge.store.sessions import end_session, session_is_open, start_session
from odbridge.store.users import User, authenticate, load_user

log = logging.getLogger("odbridge.mcp")

TOKEN_LIFETIME = ABSOLUTE_LIFETIME
"""A token ends this long after login (the dashboard's absolute session lifetime)."""
USER_ID = "odbridge.mcp.user_id"
"""Key in the request's state: the id of the user the bearer token names."""
PUBLIC_PATHS = ("/login",)
MAX_LOGIN_BODY = 16 * 1024


def token_key(secret: bytes) -> bytes:
    """The key that signs tokens: derived from the dashboard's secret, so a dashboard cookie
    is not a token and a token is not a cookie."""
    return hmac.new(secret, b"odbridge.mcp.token", hashlib.sha256).digest()


class Tokens:
    """Issues and checks bearer tokens for the users of the store."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self.engine = engine
        self.key = token_key(secret)
        self.codec = SessionCodec(self.key, idle_timeout=TOKEN_LIFETIME, secure=False)

    def issue(self, user: User) -> str | None:
        if load_user(self.engine, user.id) is None:
            return None
        sid = start_session(self.engine, user.id, forget_after=TOKEN_LIFETIME)
        return self.codec.dumps(Session.for_user(user.id, sid))

    def session(self, token: str) -> Session | None:
        return self.codec.loads(token)

    def user(self, token: str) -> User | None:
        """The enabled user a token names, unless it has ended."""
        session = self.codec.loads(token)
        if session is None or session.user_id is None:
            return None
        if not session_is_open(self.engine, session.sid, session.user_id):
            return None  # logged out, password changed, user disabled or removed
        return load_user(self.engine, session.user_id)


def _bearer(connection: HTTPConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(message: str) -> Response:
    return JSONResponse(
        {"error": "unauthorized", "message": message},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="odbridge"'},
    )


class BearerAuth:
    """ASGI middleware: every path but ``/login`` needs a valid bearer token."""

    def __init__(self, app: ASGIApp, *, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        token = _bearer(HTTPConnection(scope))
        user = await run_in_threadpool(self.tokens.user, token) if token else None
        if user is None:
            message = "Log in first: POST /login, then send Authorization: Bearer <token>."
            if token:
                message = "The token has ended or is not valid: log in again."
            await _unauthorized(message)(scope, receive, send)
            return
        scope.setdefault("state", {})[USER_ID] = user.id
        await self.app(scope, receive, send)


class LoginEndpoints:
    """``POST /login`` and ``POST /logout``."""

    def __init__(self, engine: Engine, tokens: Tokens) -> None:
        self.engine = engine
        self.tokens = tokens
        self.throttle = LoginThrottle()

    async def _credentials(self, request: Request) -> tuple[str, str] | None:
        body = await request.body()
        if len(body) > MAX_LOGIN_BODY:
            return None
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                data: Any = json.loads(body or b"{}")
            except ValueError:
                return None
        else:
            form = await request.form(max_files=0, max_fields=5)
            data = {k: v for k, v in form.items() if isinstance(v, str)}
        if not isinstance(data, dict):
            return None
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        return username[:200], password

    async def login(self, request: Request) -> Response:
        credentials = await self._credentials(request)
        if credentials is None:
            return JSONResponse(
                {"error": "bad_request", "message": "Send JSON {username, password}."},
                status_code=400,
            )
        username, password = credentials
        address = request.client.host if request.client else "unknown"
        refusal = self.throttle.begin(username, address)  # counted before the hash
        if refusal is not None:
            if refusal.count == 1:  # one audit entry per lock window
                await run_in_threadpool(self._failed, username, "throttled")
            return JSONResponse(
                {"error": "throttled", "message": "Too many failed attempts; try again later."},
                status_code=429,
                headers={"Retry-After": str(int(refusal.wait) + 1)},
            )
        user = await run_in_threadpool(authenticate, self.engine, username, password)
        token = await run_in_threadpool(self.tokens.issue, user) if user is not None else None
        if user is None or token is None:
            await run_in_threadpool(self._failed, username, "wrong name or password")
            return _unauthorized("Wrong user name or password.")
        self.throttle.succeeded(username, address)
        await run_in_threadpool(
            audit.record, self.engine, username=user.username, action="login", what="mcp"
        )
        return JSONResponse(
            {
                "token": token,
                "token_type": "Bearer",  # nosec B105 - the OAuth token type, not a secret
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            }
        )

    def _failed(self, username: str, reason: str) -> None:
        known = _known_user(self.engine, username)
        audit.record(
            self.engine,
            username=known or "(unknown)",
            action="login_failed",
            what="mcp",
            detail=reason if known else f"{reason}; unknown user name",
        )

    async def logout(self, request: Request) -> Response:
        token = _bearer(request)
        session = self.tokens.session(token) if token else None
        if session is not None and session.sid:
            await run_in_threadpool(end_session, self.engine, session.sid, "logout")
        return Response(status_code=204)


def identify_http(engine: Engine, *, deidentified: bool) -> Any:
    """The caller of a tool from the request the bearer middleware let through."""

    def identify(request: Request | None) -> Caller:
        user_id = request.scope.get("state", {}).get(USER_ID) if request is not None else None
        found = load_user(engine, int(user_id)) if user_id is not None else None
        if found is None:
            raise AccessError("Not logged in, or the user was disabled: log in again.")
        return Caller(found, deidentified=deidentified)

    return identify


def create_http_app(server: FastMCP, engine: Engine, secret: bytes) -> Starlette:
    """The streamable-HTTP app of ``server`` (at ``/mcp``) with the login in front."""
    tokens = Tokens(engine, secret)
    endpoints = LoginEndpoints(engine, tokens)
    app = server.streamable_http_app()
    app.router.routes[:0] = [
        Route("/login", endpoints.login, methods=["POST"]),
        Route("/logout", endpoints.logout, methods=["POST"]),
    ]
    app.add_middleware(BearerAuth, tokens=tokens)
    # the dashboard's guard, outermost: Host must be this machine's name (DNS rebinding),
    # a POST must not come from another site; the SDK checks /mcp's Origin as well
    app.add_middleware(RequestGuard, allowed_hosts=allowed_host_names())
    return app


def uvicorn_config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # nothing of a request's content reaches a log
        server_header=False,
        http="h11",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


def serve_http(app: Starlette, host: str, port: int, log_level: str = "warning") -> None:
    """Serve until interrupted."""
    uvicorn.Server(uvicorn_config(app, host, port, log_level)).run()


class McpHttpServer:
    """The HTTP app on a free loopback port in a background thread (tests, benchmarks)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1") -> None:
        self.host = host
        self._runner = BackgroundServer(
            lambda port: uvicorn_config(app, host, port, "warning"), host=host, name="mcp"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._runner.port}"

    def __enter__(self) -> McpHttpServer:
        self._runner.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.stop()
