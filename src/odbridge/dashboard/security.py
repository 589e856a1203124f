"""The dashboard's defences: signed session cookies with an idle timeout, CSRF tokens,
login throttling and the cap on concurrent password hashes, the allowed-hosts and
same-origin checks, security headers on every response (500s included), and the checks on
redirect targets.

The session cookie is signed (itsdangerous, HMAC-SHA1 over a timestamp): it is re-signed on
every page, and a signature older than the idle timeout is refused, so idling ends the
session. It carries a session id that the store knows (:mod:`odbridge.store.sessions`): a
logout, a new password, a disabled or removed user ends it there, restarts included; and
every session ends ``ABSOLUTE_LIFETIME`` after login.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("odbridge.dashboard")
access_log = logging.getLogger("odbridge.dashboard.access")

ABSOLUTE_LIFETIME = timedelta(hours=12)
"""A session ends this long after login, however active."""

CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""No inline script or style, nothing from elsewhere, never framed."""

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)


# -- sessions ------------------------------------------------------------------------------
@dataclass
class Session:
    """What the cookie holds. An anonymous session has only a CSRF token."""

    csrf: str
    sid: str = ""
    user_id: int | None = None
    since: float = 0.0

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(32))

    @classmethod
    def for_user(cls, user_id: int, sid: str) -> Session:
        """A fresh session (the store's new id, a new CSRF token) for a user who just logged
        in."""
        return cls(csrf=secrets.token_urlsafe(32), sid=sid, user_id=user_id, since=time.time())

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"c": self.csrf}
        if self.user_id is not None:
            data.update(s=self.sid, u=self.user_id, a=self.since)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Session | None:
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        if "u" not in data:
            return cls(csrf=data["c"])
        try:
            return cls(
                csrf=data["c"],
                sid=str(data["s"]),
                user_id=int(data["u"]),
                since=float(data["a"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class _ClockedSigner(TimestampSigner):
    """itsdangerous's timestamp signer on the codec's clock (injected in tests)."""

    def __init__(self, *args: Any, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class SessionCodec:
    """Signs sessions into cookie values and reads them back, enforcing the timeouts.

    ``clock`` (seconds, like :func:`time.time`) dates the signatures and measures idleness.
    """

    def __init__(
        self,
        secret_key: bytes,
        *,
        idle_timeout: timedelta,
        secure: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret_key,
            salt="odbridge.dashboard.session",
            signer=_ClockedSigner,
            signer_kwargs={"clock": clock},
        )
        self.idle_timeout = idle_timeout
        self.secure = secure
        self.cookie_name = "__Host-odbridge" if secure else "odbridge_session"
        self._clock = clock

    def dumps(self, session: Session) -> str:
        return str(self._serializer.dumps(session.to_dict()))

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if absent, forged, idle or past its
        lifetime (whether the store still has it open is the caller's check)."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=int(self.idle_timeout.total_seconds()))
        except SignatureExpired:
            return None
        except BadSignature:
            return None
        session = Session.from_dict(data)
        if session is None or session.user_id is None:
            return session
        if self._clock() - session.since > ABSOLUTE_LIFETIME.total_seconds():
            return None
        return session

    def cookie_header(self, session: Session | None) -> str:
        """A Set-Cookie value: the session, or a deletion when None."""
        flags = "Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if self.secure else "")
        if session is None:
            return f"{self.cookie_name}=; Max-Age=0; {flags}"
        return f"{self.cookie_name}={self.dumps(session)}; {flags}"


def csrf_matches(session: Session | None, submitted: object) -> bool:
    """True when the form's token is the session's (compared in constant time)."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return secrets.compare_digest(session.csrf.encode(), submitted.encode())


# -- redirects and hosts -------------------------------------------------------------------
def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or len(target) > 2000:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    if target.startswith(("/login", "/logout")):
        return default
    return target


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without the port, lower case ('[::1]:8000' -> '::1')."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _unspecified(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_unspecified
    except ValueError:
        return False


def allowed_host_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names the dashboard answers to: loopback's, and the names or addresses the
    operator allowed (``--allowed-host``, the address it listens on); a wildcard address
    such as 0.0.0.0 is never a name to answer to."""
    names = {*LOOPBACK_NAMES}
    for name in extra:
        if name.strip() and not _unspecified(name):
            names.add(host_name(f"[{name}]" if name.count(":") > 1 else name))
    return frozenset(names)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SAME_SITE = ("same-origin", "none")


class RequestGuard:
    """ASGI middleware, the first to look at a request: refuses a ``Host`` that is not one of
    ``allowed_hosts`` (400: defeats DNS rebinding, where a hostile page's name points at
    127.0.0.1), and any POST that the browser says came from another site (403: a
    ``Sec-Fetch-Site`` other than same-origin, or an ``Origin`` that is not this host)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed_hosts = frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if host_name(host) not in self.allowed_hosts:
            log.warning("refused a request for a host name the dashboard does not serve")
            await _plain(scope, receive, send, 400, "This server does not answer to that name.")
            return
        if scope.get("method", "GET") not in SAFE_METHODS and not self._same_origin(headers, host):
            log.warning("refused a cross-site %s to %s", scope.get("method"), scope.get("path"))
            await _plain(scope, receive, send, 403, "Cross-site requests are refused.")
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _same_origin(headers: Headers, host: str) -> bool:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site.lower() not in SAME_SITE:
            return False
        origin = headers.get("origin")
        if origin is None or origin == "null":
            # not sent by every client, and "null" under Referrer-Policy: no-referrer (ours):
            # Sec-Fetch-Site above decides then, and the CSRF token still guards the form
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


async def _plain(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    await PlainTextResponse(text, status_code=status)(scope, receive, send)


ERROR_PAGE = (
    "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
    "<p>The error was logged. Try again, or go back to the <a href='/'>overview</a>.</p>"
)


class CatchErrors:
    """ASGI middleware inside :class:`SecurityHeaders`: an unexpected error becomes a plain
    500 page (with the security headers) and one log line naming only the error's type (a
    message or traceback could quote patient data); nothing reaches the server's log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("dashboard error on %s: %s", scope.get("path"), type(exc).__name__)
            if not started:
                await HTMLResponse(ERROR_PAGE, status_code=500)(scope, receive, send)


# -- headers and the access log ------------------------------------------------------------
class SecurityHeaders:
    """ASGI middleware: the security headers on every response, no caching except for static
    files, and one access-log line per request (method, route, status: never the query)."""

    def __init__(
        self, app: ASGIApp, *, hsts: bool = False, static_prefix: str = "/static/"
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope.get("path", "")
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Permissions-Policy"] = PERMISSIONS_POLICY
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                if self.hsts:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                if path.startswith(self.static_prefix) and status == 200:
                    headers["Cache-Control"] = "private, max-age=86400"
                else:
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
                elapsed = (time.perf_counter() - started) * 1000
                headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            # the route's template (/patients/{practice}/{pat_num}), never the query string
            # or an unmatched path, either of which can hold what someone typed
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            elapsed = (time.perf_counter() - started) * 1000
            access_log.info("%s %s %s %.0fms", scope.get("method"), route, status, elapsed)
