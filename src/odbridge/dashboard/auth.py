"""Who is asking: the session middleware, the login and logout pages, the role check.

Every path except ``/login`` and ``/static/...`` needs a logged-in user; anyone else is sent
to ``/login?next=<the path>``. Logins and failed logins go to the audit log (the user name,
never the password; an unknown name is recorded as "(unknown)", as it may be a mistyped
password).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from odbridge.dashboard.security import (
    CSRF_FIELD,
    LoginThrottle,
    Session,
    SessionCodec,
    csrf_matches,
    log,
    safe_next,
)
from odbridge.store import audit
from odbridge.store.schema import users
from odbridge.store.users import (
    User,
    UserError,
    authenticate,
    load_user,
    normalize_username,
    session_tag,
)

PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = ("/login",)
NEW_SESSION = "odbridge.new_session"
"""Key in ``request.state``: a session the response must set (None: end the session)."""


class AuthMiddleware:
    """Reads the session cookie, loads the user, refuses anonymous access, writes the cookie.

    Sets ``request.state.session`` (possibly None) and ``request.state.user`` (None when not
    logged in). An authenticated response re-signs the cookie, which is what makes the
    timeout an idle one.
    """

    def __init__(self, app: ASGIApp, *, engine: Engine, codec: SessionCodec, secret: bytes) -> None:
        self.app = app
        self.engine = engine
        self.codec = codec
        self.secret = secret

    def _user_for(self, session: Session | None) -> User | None:
        if session is None or session.user_id is None:
            return None
        found = load_user(self.engine, session.user_id)
        if found is None:
            return None
        user, password_hash = found
        if not csrf_matches(Session(csrf=session_tag(password_hash, self.secret)), session.tag):
            return None  # the password changed since this session began
        return user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        raw = connection.cookies.get(self.codec.cookie_name)
        session = self.codec.loads(raw)
        user = await run_in_threadpool(self._user_for, session) if session else None
        if session is not None and session.user_id is not None and user is None:
            session = None  # a logged-in session whose user is gone, disabled or re-keyed
        state = scope.setdefault("state", {})
        state["session"] = session
        state["user"] = user
        if user is None and path not in PUBLIC_PATHS:
            target = path + (
                f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
            )
            location = (
                "/login" if target == "/" else f"/login?next={quote(safe_next(target), safe='')}"
            )
            response: Response = RedirectResponse(location, status_code=303)
            if path.endswith(".json"):  # a page's JSON twin: no redirect to an HTML form
                response = JSONResponse({"error": "Log in first.", "status": 401}, 401)
            if raw:
                response.headers.append("Set-Cookie", self.codec.cookie_header(None))
            await response(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if NEW_SESSION in state:
                    headers.append("Set-Cookie", self.codec.cookie_header(state[NEW_SESSION]))
                elif user is not None and session is not None:
                    headers.append("Set-Cookie", self.codec.cookie_header(session))
                elif raw and session is None:
                    headers.append("Set-Cookie", self.codec.cookie_header(None))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def current_user(request: Request) -> User:
    """The logged-in user (the middleware guarantees one on protected pages)."""
    user: User | None = request.state.user
    if user is None:  # pragma: no cover - the middleware redirects first
        raise HTTPException(status_code=401)
    return user


def require_admin(request: Request) -> User:
    """The logged-in user if an admin, else 403."""
    user = current_user(request)
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="This page is for administrators.")
    return user


def csrf_token(request: Request) -> str:
    """The token forms must send back; starts an anonymous session when there is none."""
    pending = request.scope["state"].get(NEW_SESSION)
    if isinstance(pending, Session):
        return pending.csrf
    session: Session | None = request.state.session
    if session is None:
        session = Session.anonymous()
        request.scope["state"][NEW_SESSION] = session
    return session.csrf


async def check_csrf(request: Request) -> dict[str, Any]:
    """The submitted form if its CSRF token is the session's; 403 otherwise."""
    form = await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf_matches(request.state.session, values.get(CSRF_FIELD)):
        raise HTTPException(
            status_code=403,
            detail="The form was out of date or did not come from this site. Reload the page "
            "and try again.",
        )
    return values


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _known_user(engine: Engine, username: str) -> str | None:
    try:
        name = normalize_username(username)
    except UserError:
        return None
    with engine.connect() as connection:
        found = connection.execute(select(users.c.username).where(users.c.username == name)).first()
    return name if found else None


class LoginHandlers:
    """``GET/POST /login`` and ``POST /logout``; ``render`` draws the login page."""

    def __init__(
        self,
        engine: Engine,
        codec: SessionCodec,
        throttle: LoginThrottle,
        secret: bytes,
        render: Any,
    ) -> None:
        self.engine = engine
        self.codec = codec
        self.throttle = throttle
        self.secret = secret
        self.render = render

    async def login_form(self, request: Request) -> Response:
        if request.state.user is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        response: Response = self.render(
            request, "login.html", {"next": safe_next(request.query_params.get("next"))}
        )
        return response

    async def login(self, request: Request) -> Response:
        form = await check_csrf(request)
        username = form.get("username", "")[:200]
        password = form.get("password", "")
        target = safe_next(form.get("next"))
        address = client_address(request)
        wait = self.throttle.retry_after(username, address)
        if wait > 0:
            await run_in_threadpool(self._audit_failure, username, "throttled")
            response: Response = self.render(
                request,
                "login.html",
                {
                    "next": target,
                    "username": username,
                    "error": f"Too many failed attempts. Try again in {int(wait) + 1} seconds.",
                },
                status_code=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = await run_in_threadpool(authenticate, self.engine, username, password)
        if user is None:
            self.throttle.failed(username, address)
            await run_in_threadpool(self._audit_failure, username, "wrong name or password")
            response = self.render(
                request,
                "login.html",
                {"next": target, "username": username, "error": "Wrong user name or password."},
                status_code=401,
            )
            return response
        self.throttle.succeeded(username, address)
        found = await run_in_threadpool(load_user, self.engine, user.id)
        if found is None:  # disabled or removed in the meantime
            return RedirectResponse("/login", status_code=303)
        session = Session.for_user(user.id, session_tag(found[1], self.secret))
        request.scope["state"][NEW_SESSION] = session
        await run_in_threadpool(
            audit.record, self.engine, username=user.username, action="login", what="dashboard"
        )
        log.info("dashboard login: user id %s", user.id)
        return RedirectResponse(target, status_code=303)

    def _audit_failure(self, username: str, reason: str) -> None:
        known = _known_user(self.engine, username)
        audit.record(
            self.engine,
            username=known or "(unknown)",
            action="login_failed",
            what="dashboard",
            detail=reason if known else f"{reason}; unknown user name",
        )

    async def logout(self, request: Request) -> Response:
        await check_csrf(request)
        user = current_user(request)
        session: Session | None = request.state.session
        if session is not None:
            self.codec.revoke(session)
        request.scope["state"][NEW_SESSION] = None
        await run_in_threadpool(
            audit.record, self.engine, username=user.username, action="logout", what="dashboard"
        )
        return RedirectResponse("/login", status_code=303)
