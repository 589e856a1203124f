"""The dashboard's defences: signed session cookies with an idle timeout, CSRF tokens,
login throttling, security headers, and the checks on redirect targets.

Sessions live entirely in a signed cookie (itsdangerous, HMAC-SHA1 over a timestamp): it is
re-signed on every page, and a signature older than the idle timeout is refused, so idling
ends the session. A session also ends at logout (its id is remembered as revoked until it
would have expired), after ``ABSOLUTE_LIFETIME``, and when the user's password changes or
the user is disabled (the cookie carries a keyed digest of the password hash).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
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
    tag: str = ""
    since: float = 0.0

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(32))

    @classmethod
    def for_user(cls, user_id: int, tag: str) -> Session:
        """A fresh session (new id and CSRF token) for a user who just logged in."""
        return cls(
            csrf=secrets.token_urlsafe(32),
            sid=secrets.token_urlsafe(16),
            user_id=user_id,
            tag=tag,
            since=time.time(),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"c": self.csrf}
        if self.user_id is not None:
            data.update(s=self.sid, u=self.user_id, t=self.tag, a=self.since)
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
                tag=str(data["t"]),
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
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def dumps(self, session: Session) -> str:
        return str(self._serializer.dumps(session.to_dict()))

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if absent, forged, idle or ended."""
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
        now = self._clock()
        if now - session.since > ABSOLUTE_LIFETIME.total_seconds():
            return None
        with self._lock:
            if session.sid in self._revoked:
                return None
        return session

    def revoke(self, session: Session) -> None:
        """Refuse this session from now on (logout)."""
        if not session.sid:
            return
        now = self._clock()
        with self._lock:
            self._revoked[session.sid] = session.since + ABSOLUTE_LIFETIME.total_seconds()
            if len(self._revoked) > 1000:
                self._revoked = {k: v for k, v in self._revoked.items() if v > now}

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


# -- login throttling ----------------------------------------------------------------------
@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Slows down password guessing, per (user name, address) and per address.

    After ``free_attempts`` failures in a row a key is locked for ``base_delay`` seconds, and
    each further failure doubles the lock, up to ``max_delay``. A success clears the user's
    key. An address gets ``address_factor`` times as many free attempts over all names.
    """

    def __init__(
        self,
        *,
        free_attempts: int = 5,
        base_delay: float = 30.0,
        max_delay: float = 900.0,
        address_factor: int = 4,
        forget_after: float = 86400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.address_factor = address_factor
        self.forget_after = forget_after
        self._clock = clock
        self._entries: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [
            (("user", f"{username.strip().lower()}|{address}"), self.free_attempts),
            (("addr", address), self.free_attempts * self.address_factor),
        ]

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this name may try again from this address (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [
                entry.locked_until - now
                for key, _ in self._keys(username, address)
                if (entry := self._entries.get(key)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, username: str, address: str) -> None:
        """Count a failed attempt."""
        now = self._clock()
        with self._lock:
            for key, free in self._keys(username, address):
                entry = self._entries.setdefault(key, _Failures())
                if now - entry.last > self.forget_after:
                    entry.count = 0
                entry.count += 1
                entry.last = now
                if entry.count >= free:
                    delay = self.base_delay * 2 ** (entry.count - free)
                    entry.locked_until = now + min(self.max_delay, delay)
            if len(self._entries) > 10000:
                self._entries = {
                    k: v for k, v in self._entries.items() if now - v.last < self.forget_after
                }

    def succeeded(self, username: str, address: str) -> None:
        """Clear the name's failures from this address."""
        with self._lock:
            self._entries.pop(self._keys(username, address)[0][0], None)


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
