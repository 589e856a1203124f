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
    ABSOLUTE_LIFETIME,
    CSRF_FIELD,
    Session,
    SessionCodec,
    csrf_matches,
    log,
    safe_next,
)
from odbridge.dashboard.throttle import HashGate, LoginThrottle, Refusal
from odbridge.store import audit
from odbridge.store.schema import users
from odbridge.store.sessions import end_session, session_is_open, start_session
from odbridge.store.users import (
    User,
    UserError,
    authenticate,
    load_user,
    normalize_username,
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

    def __init__(self, app: ASGIApp, *, engine: Engine, codec: SessionCodec) -> None:
        self.app = app
        self.engine = engine
        self.codec = codec

    def _user_for(self, session: Session | None) -> User | None:
        if session is None or session.user_id is None:
            return None
        if not session_is_open(self.engine, session.sid, session.user_id):
            return None  # logged out, password changed, user disabled or removed
        return load_user(self.engine, session.user_id)

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
    """``GET/POST /login`` and ``POST /logout``; ``render`` draws the login page.

    A login attempt is counted by the throttle before the password is checked; attempts
    beyond ``gate``'s concurrent hashes are answered 503 (busy). While locked, attempts get
    429 and one audit entry per lock window counts them.
    """

    def __init__(
        self,
        engine: Engine,
        codec: SessionCodec,
        render: Any,
        *,
        throttle: LoginThrottle | None = None,
        gate: HashGate | None = None,
    ) -> None:
        self.engine = engine
        self.codec = codec
        self.render = render
        # not `throttle or ...`: an empty LoginThrottle has len 0, so it is falsy
        self.throttle = throttle if throttle is not None else LoginThrottle()
        self.gate = gate or HashGate()

    async def login_form(self, request: Request) -> Response:
        if request.state.user is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        response: Response = self.render(
            request, "login.html", {"next": safe_next(request.query_params.get("next"))}
        )
        return response

    def _form_again(
        self, request: Request, values: dict[str, str], error: str, status: int
    ) -> Response:
        response: Response = self.render(
            request, "login.html", {**values, "error": error}, status_code=status
        )
        return response

    async def login(self, request: Request) -> Response:
        form = await check_csrf(request)
        username = form.get("username", "")[:200]
        password = form.get("password", "")
        target = safe_next(form.get("next"))
        values = {"next": target, "username": username}
        address = client_address(request)
        refusal = self.throttle.begin(username, address)
        if refusal is not None:
            await run_in_threadpool(self._audit_refusal, username, refusal)
            wait = int(refusal.wait) + 1
            response = self._form_again(
                request, values, f"Too many failed attempts. Try again in {wait} seconds.", 429
            )
            response.headers["Retry-After"] = str(wait)
            return response
        if not self.gate.try_enter():
            response = self._form_again(
                request, values, "The server is busy. Try again in a few seconds.", 503
            )
            response.headers["Retry-After"] = "2"
            return response
        try:
            user = await run_in_threadpool(authenticate, self.engine, username, password)
        finally:
            self.gate.leave()
        if user is None:
            await run_in_threadpool(self._audit_failure, username, "wrong name or password")
            return self._form_again(request, values, "Wrong user name or password.", 401)
        self.throttle.succeeded(username, address)
        sid = await run_in_threadpool(
            start_session, self.engine, user.id, forget_after=ABSOLUTE_LIFETIME
        )
        request.scope["state"][NEW_SESSION] = Session.for_user(user.id, sid)
        await run_in_threadpool(
            audit.record, self.engine, username=user.username, action="login", what="dashboard"
        )
        log.info("dashboard login: user id %s", user.id)
        return RedirectResponse(target, status_code=303)

    def _audit_failure(self, username: str, reason: str) -> int:
        known = _known_user(self.engine, username)
        return audit.record(
            self.engine,
            username=known or "(unknown)",
            action="login_failed",
            what="dashboard",
            detail=reason if known else f"{reason}; unknown user name",
        )

    def _audit_refusal(self, username: str, refusal: Refusal) -> None:
        """One entry per lock window: written at its first refusal, its count kept current."""
        if refusal.audit_id is None:
            entry = self._audit_failure(username, "throttled: 1 attempt refused while locked")
            self.throttle.remember_audit(refusal.window, entry)
            return
        known = _known_user(self.engine, username)
        suffix = "" if known else "; unknown user name"
        audit.update_detail(
            self.engine,
            refusal.audit_id,
            f"throttled: {refusal.count} attempts refused while locked{suffix}",
        )

    async def logout(self, request: Request) -> Response:
        await check_csrf(request)
        user = current_user(request)
        session: Session | None = request.state.session
        if session is not None and session.sid:
            await run_in_threadpool(end_session, self.engine, session.sid, "logout")
        request.scope["state"][NEW_SESSION] = None
        await run_in_threadpool(
            audit.record, self.engine, username=user.username, action="logout", what="dashboard"
        )
        return RedirectResponse("/login", status_code=303)
