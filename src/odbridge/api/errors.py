"""One exception per cause of failure, each saying what happened and what to do next.

Every error carries ``status`` (HTTP status, ``None`` when no response came back),
``server_message`` (the server's short explanation, cleaned of HTML and never a key) and
``hint`` (the next step for a person). ``str(error)`` joins them into a readable message.
No error text ever holds an API key or a patient's field value.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from odbridge.errors import OdbridgeError

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConnectionFailedError",
    "EConnectorError",
    "ErrorContext",
    "GoneError",
    "MethodNotAllowedError",
    "NotFoundError",
    "OfficeNetworkError",
    "OpenDentalError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "ServerError",
    "clean_server_message",
    "error_for_status",
]

MAX_MESSAGE_CHARS = 300

_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


class OpenDentalError(OdbridgeError):
    """Base class of every error the Open Dental API client raises."""

    summary: ClassVar[str] = "The Open Dental API request failed."
    default_hint: ClassVar[str] = ""
    transient: ClassVar[bool] = False
    office_outage: ClassVar[bool] = False
    """Trouble at the dental office (eConnector, its network): retried with long waits."""

    def __init__(
        self,
        status: int | None = None,
        server_message: str = "",
        hint: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        detail: str = "",
    ) -> None:
        self.status = status
        self.server_message = server_message
        self.hint = self.default_hint if hint is None else hint
        self.method = method
        self.path = path
        self.detail = detail
        """What the client saw when no server message exists (e.g. "connection refused")."""
        self.attempts = 1
        super().__init__(self._headline())

    @property
    def retryable(self) -> bool:
        """True when sending the same request again may succeed."""
        return self.transient

    def _headline(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{status}{self.summary}{where}"

    def __str__(self) -> str:
        parts = [self._headline()]
        if self.attempts > 1:
            parts.append(f"Gave up after {self.attempts} attempts.")
        if self.server_message:
            parts.append(f"Server said: {self.server_message}")
        if self.detail:
            parts.append(f"Detail: {self.detail}")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, path={self.path!r})"


class AuthenticationError(OpenDentalError):
    """401: a key is wrong, unassigned, disabled, or lacks the permission."""

    summary = "The API did not accept the keys."
    developer_hint: ClassVar[str] = (
        "Check the developer key: it comes from the Open Dental Developer Portal "
        "(ODBRIDGE_DEVELOPER_KEY or developer_key in the practice's settings)."
    )
    customer_hint: ClassVar[str] = (
        "Check the customer key: it is generated in the Developer Portal for this practice "
        "and must be entered in Open Dental under Setup > Advanced Setup > API, with Enabled "
        "ticked (ODBRIDGE_CUSTOMER_KEY or customer_key in the practice's settings)."
    )
    disabled_hint: ClassVar[str] = (
        "The customer key is disabled: enable it again in Open Dental under Setup > Advanced "
        "Setup > API, or generate a new one in the Developer Portal."
    )
    common_hint: ClassVar[str] = (
        "A developer key without the permission for this endpoint also gives 401. Key "
        "changes can take up to 15 minutes to apply."
    )
    basic_hint: ClassVar[str] = (
        "You used HTTP Basic authentication, which is not the documented scheme: use the "
        "default 'ODFHIR' scheme (auth_scheme='odfhir')."
    )
    default_hint = f"{developer_hint} {customer_hint} {common_hint}"

    @classmethod
    def hint_for(cls, server_message: str, auth_scheme: str = "odfhir") -> str:
        """The hint for a 401: the key the server complained about, else both."""
        text = server_message.lower()
        parts = []
        if "disabled" in text:
            parts.append(cls.disabled_hint)
        elif "developer" in text and "customer" not in text:
            parts.append(cls.developer_hint)
        elif "customer" in text and "developer" not in text:
            parts.append(cls.customer_hint)
        else:
            parts += [cls.developer_hint, cls.customer_hint]
        parts.append(cls.common_hint)
        if auth_scheme == "basic":
            parts.append(cls.basic_hint)
        return " ".join(parts)


class EConnectorError(OpenDentalError):
    """400 because the practice's eConnector is not running or not reachable (retried)."""

    transient = True
    office_outage = True
    summary = "The practice's eConnector is not answering."
    default_hint = (
        "The remote API reaches the practice through its eConnector. Start it at the office: "
        "in Open Dental under eServices > eConnector Service (Manage), or in Windows Services. "
        "Two eConnectors on one registration also cause this."
    )


class OfficeNetworkError(OpenDentalError):
    """400 for a request timeout or other trouble reaching the dental office (retried)."""

    transient = True
    office_outage = True
    summary = "The dental office's network did not answer in time."
    default_hint = (
        "Open Dental documents this 400 as passing trouble between its servers and the office "
        "(request timeouts, connectivity). If it lasts, check the office's internet connection "
        "and that the eConnector's computer is on."
    )


class BadRequestError(OpenDentalError):
    """400 for any other reason: a malformed request, or an office version too old."""

    summary = "The API rejected the request as invalid."
    default_hint = (
        "Check the parameter formats (dates yyyy-MM-dd, DateTStamp yyyy-MM-dd HH:mm:ss). If the "
        "request is right, the office's Open Dental may be too old for this method: update it."
    )


class NotFoundError(OpenDentalError):
    """404: no such record, or no such resource at this base URL."""

    summary = "Not found."
    default_hint = "Check the record's number, and that the base URL ends in /api/v1."


class MethodNotAllowedError(OpenDentalError):
    """405: the endpoint does not take this HTTP method."""

    summary = "The endpoint does not accept this HTTP method."
    default_hint = "Check the base URL, and whether the office's Open Dental version has it."


class GoneError(OpenDentalError):
    """410: the resource is deprecated."""

    summary = "This API resource has been retired."
    default_hint = "Use its replacement endpoint; update odbridge."


class RateLimitError(OpenDentalError):
    """429: requests came faster than the key's tier allows, and retries did not help."""

    summary = "The API throttled the requests (too many too fast)."
    default_hint = (
        "Set the tier to match the key's permissions: read-all allows one request every 5 s, "
        "full one a second, enterprise one per 0.5 s (ODBRIDGE_TIER, or a larger "
        "ODBRIDGE_RATE_INTERVAL). Another program using the same customer key shares the budget."
    )
    transient = True

    def __init__(
        self,
        status: int | None = 429,
        server_message: str = "",
        hint: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, server_message, hint, method=method, path=path)
        self.retry_after = retry_after
        """Seconds the server asked to wait (``Retry-After``), if it said."""


class ServerError(OpenDentalError):
    """500, 502 or 503: the server failed, and retries did not help."""

    summary = "The server failed to answer the request."
    default_hint = (
        "Try again later. If it keeps failing, check Open Dental and the eConnector at the "
        "office, and Open Dental's service status."
    )
    transient = True

    @property
    def retryable(self) -> bool:
        """500, 502 and 503 are worth retrying; other 5xx statuses are not."""
        return self.status in (None, 500, 502, 503)


class RequestTimeoutError(OpenDentalError):
    """504 (the server gives up after 60 s), or no answer within the client's read timeout."""

    summary = "The request took too long."
    default_hint = "Ask for fewer rows per request: lower the page size (page_size / Limit)."
    transient = True


class ConnectionFailedError(OpenDentalError):
    """No HTTP answer at all: connection refused or dropped, or the host name unknown."""

    summary = "Could not talk to the API server."
    default_hint = "Check the base URL and the network."
    transient = True
    refused: bool = False
    """Nothing listens at the address (connection refused): worth one quick retry, no more."""

    DROPPED_HINT: ClassVar[str] = (
        "The connection dropped before the answer was complete. This is usually passing "
        "network trouble; if it persists, check the network between here and the server."
    )

    MODE_HINTS: ClassVar[dict[str, str]] = {
        "remote": (
            "Check the base URL (the remote API is https://api.opendental.com/api/v1) and "
            "the network; if it is a simulator or proxy, make sure it is running."
        ),
        "local": (
            "The Local API answers only while Open Dental runs and is logged in on this "
            "workstation (port 30222). Check the base URL."
        ),
        "service": (
            "The API Service (OpenDentalAPIService) must run on the database server, and its "
            "firewall must allow port 30223. Check the service host."
        ),
        "auto": "None of Local API, API Service or remote API answered; check each.",
    }

    @classmethod
    def for_mode(
        cls,
        mode: str,
        detail: str,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> ConnectionFailedError:
        """The error with the hint that fits the connection mode."""
        hint = cls.MODE_HINTS.get(mode, cls.default_hint)
        return cls(None, "", hint, method=method, path=path, detail=detail)


class ResponseFormatError(OpenDentalError):
    """The response is not the documented shape (or not JSON at all).

    ``field`` names the offending key and ``problem`` what is wrong with it; neither ever
    holds the field's value.
    """

    summary = "The API's answer is not in the documented format."
    default_hint = (
        "Check that the base URL points at the Open Dental API (…/api/v1) and that the "
        "office's Open Dental is up to date. If it persists, report the field named here."
    )

    def __init__(
        self,
        problem: str,
        *,
        field: str | None = None,
        row: int | None = None,
        status: int | None = None,
        truncated: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.field = field
        self.problem = problem
        self.row = row
        self.truncated = truncated
        super().__init__(status, "", None, method=method, path=path)

    @property
    def retryable(self) -> bool:
        """A body cut short or not JSON may come back whole on a retry."""
        return self.truncated

    def _headline(self) -> str:
        row = f" (row {self.row})" if self.row is not None else ""
        request = f" ({self.method} {self.path})" if self.method and self.path else ""
        if self.field:
            return f"{self.summary} {self.field}: {self.problem}{row}{request}"
        # a sentence of its own after the summary's
        problem = self.problem[:1].upper() + self.problem[1:]
        return f"{self.summary} {problem}{row}{request}"


@dataclass(frozen=True)
class ErrorContext:
    """What the client knows that makes a hint precise (never the keys)."""

    mode: str = "remote"
    auth_scheme: str = "odfhir"
    tier: str | None = None
    rate_interval: float | None = None
    page_size: int | None = None
    base_url: str | None = None


def clean_server_message(
    body: bytes | str,
    limit: int = MAX_MESSAGE_CHARS,
    redact: Callable[[str], str] | None = None,
) -> str:
    """The server's explanation as one short line: a JSON string unquoted, HTML stripped.

    ``redact`` (the client's :class:`~odbridge.api.logsafe.SecretRedactor`) is applied to
    the whole body and again to the cleaned text, always **before** the text is cut to
    ``limit`` characters: a key straddling the cut would otherwise leave a piece behind.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if redact is not None:
        text = redact(text)
    text = text.strip()
    if not text:
        return ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, str):
        text = parsed
    elif isinstance(parsed, dict):
        for key in ("message", "Message", "error", "detail"):
            if isinstance(parsed.get(key), str):
                text = parsed[key]
                break
    if "<" in text and ">" in text:
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", _SCRIPT.sub(" ", text))
        text = html.unescape(text)
    text = _SPACE.sub(" ", text).strip()
    if redact is not None:  # JSON and HTML escapes are undone now: look again
        text = redact(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _is_econnector(message: str) -> bool:
    return "econnector" in message.lower()


_OFFICE_NETWORK = re.compile(r"time ?out|timed out|network|connectivity|unreachable", re.I)


def _is_office_network(message: str) -> bool:
    return bool(_OFFICE_NETWORK.search(message))


_BY_STATUS: dict[int, type[OpenDentalError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    410: GoneError,
    429: RateLimitError,
    504: RequestTimeoutError,
}


def error_for_status(
    status: int,
    server_message: str,
    context: ErrorContext | None = None,
    *,
    method: str | None = None,
    path: str | None = None,
    retry_after: float | None = None,
) -> OpenDentalError:
    """The exception for an HTTP error ``status`` and the server's (cleaned) message."""
    ctx = context or ErrorContext()
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else OpenDentalError)
    hint = cls.default_hint
    if status == 400 and _is_econnector(server_message):
        cls, hint = EConnectorError, EConnectorError.default_hint
    elif status == 400 and _is_office_network(server_message):
        cls, hint = OfficeNetworkError, OfficeNetworkError.default_hint
    elif status == 401:
        hint = AuthenticationError.hint_for(server_message, ctx.auth_scheme)
    elif status == 429 and ctx.rate_interval is not None:
        tier = f"tier {ctx.tier}, " if ctx.tier else ""
        hint += f" Configured now: {tier}{ctx.rate_interval:g} s between requests."
    elif status == 504 and ctx.page_size:
        hint += f" It is {ctx.page_size} now."
    elif status == 404 and ctx.base_url and not ctx.base_url.rstrip("/").endswith("/api/v1"):
        hint = (
            f"The base URL {ctx.base_url} does not end in /api/v1: Open Dental's API lives "
            "there (remote: https://api.opendental.com/api/v1; Local API: "
            "http://localhost:30222/api/v1)."
        )
    if cls is RateLimitError:
        return RateLimitError(
            status, server_message, hint, method=method, path=path, retry_after=retry_after
        )
    return cls(status, server_message, hint, method=method, path=path)
