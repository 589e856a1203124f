"""Every failure maps to its own error class with a useful hint (httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from odbridge.api.client import Client
from odbridge.api.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    EConnectorError,
    ErrorContext,
    GoneError,
    MethodNotAllowedError,
    NotFoundError,
    OpenDentalError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    clean_server_message,
    error_for_status,
)
from odbridge.api.retry import RetryPolicy

pytestmark = pytest.mark.unit

DEV = "dev-SECRET-7f3a"
CUST = "cust-SECRET-99b1"
ECONNECTOR = (
    "The eConnector for this office is not running or could not be reached. "
    "Start the eConnector service at the office and try again."
)
HTML = (
    "<html><head><title>502 Bad Gateway</title><style>b{}</style></head>"
    "<body><h1>Bad Gateway</h1><script>x()</script></body></html>"
)


def fetch_error(response: httpx.Response | Exception, **kwargs: object) -> OpenDentalError:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    kwargs.setdefault("rate_interval", 0)
    client = Client(
        DEV,
        CUST,
        base_url="http://od.test/api/v1",
        tier="full",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=2, sleep=lambda _: None, max_retry_after=0),
        **kwargs,  # type: ignore[arg-type]
    )
    with client, pytest.raises(OpenDentalError) as caught:
        client.patients.list()
    return caught.value


@pytest.mark.parametrize(
    ("status", "body", "cls", "in_hint"),
    [
        (401, '"Invalid CustomerKey."', AuthenticationError, "Setup > Advanced Setup > API"),
        (401, '"Invalid DeveloperKey."', AuthenticationError, "Developer Portal"),
        (401, '"This CustomerKey has been disabled."', AuthenticationError, "disabled"),
        (401, "Unauthorized", AuthenticationError, "15 minutes"),
        (400, f'"{ECONNECTOR}"', EConnectorError, "eConnector"),
        (400, '"DateTStamp format must be yyyy-MM-dd HH:mm:ss"', BadRequestError, "update"),
        (404, '"Patient not found."', NotFoundError, "/api/v1"),
        (405, "Method Not Allowed", MethodNotAllowedError, "version"),
        (410, '"This resource is deprecated."', GoneError, "replacement"),
        (429, '"Too many requests."', RateLimitError, "tier full, 0.05 s"),
        (500, '"An unexpected error occurred."', ServerError, "Try again later"),
        (502, HTML, ServerError, "Try again later"),
        (503, "Service Unavailable", ServerError, "Try again later"),
        (504, '"The request did not finish in time."', RequestTimeoutError, "It is 100 now"),
    ],
)
def test_status_maps_to_class_with_hint(
    status: int, body: str, cls: type[OpenDentalError], in_hint: str
) -> None:
    error = fetch_error(
        httpx.Response(status, content=body.encode(), headers={"Retry-After": "1"}),
        rate_interval=0.05,
    )
    assert type(error) is cls
    assert error.status == status
    assert in_hint in error.hint
    assert "<" not in error.server_message
    assert error.server_message
    assert not error.server_message.startswith('"')
    text = str(error)
    assert f"HTTP {status}" in text
    assert error.hint in text
    assert "/patients/Simple" in text
    assert DEV not in text
    assert CUST not in text


def test_transient_errors_report_attempts() -> None:
    error = fetch_error(httpx.Response(503, text="busy"))
    assert error.attempts == 2
    assert "after 2 attempts" in str(error)
    assert fetch_error(httpx.Response(404, text="x")).attempts == 1


def test_basic_auth_401_says_basic_is_not_documented() -> None:
    error = fetch_error(httpx.Response(401, json="Invalid"), auth_scheme="basic")
    assert "not the documented scheme" in error.hint
    assert "not the documented" not in fetch_error(httpx.Response(401, json="Invalid")).hint


def test_rate_limit_error_keeps_retry_after() -> None:
    error = fetch_error(httpx.Response(429, json="slow down", headers={"Retry-After": "7"}))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0


@pytest.mark.parametrize(
    ("mode", "words"),
    [("local", "logged in"), ("service", "30223"), ("remote", "network")],
)
def test_connection_refused_hint_depends_on_mode(mode: str, words: str) -> None:
    error = fetch_error(httpx.ConnectError("[Errno 111] Connection refused"), mode=mode)
    assert isinstance(error, ConnectionFailedError)
    assert error.status is None
    assert words in error.hint
    assert "Connection refused" in error.detail
    assert error.__cause__ is None


def test_dropped_connection_is_a_connection_error_with_a_drop_hint() -> None:
    error = fetch_error(httpx.RemoteProtocolError("peer closed connection"))
    assert isinstance(error, ConnectionFailedError)
    assert "dropped" in error.hint


def test_read_timeout_is_a_request_timeout() -> None:
    error = fetch_error(httpx.ReadTimeout("timed out"))
    assert isinstance(error, RequestTimeoutError)
    assert error.status is None
    assert "70 s" in error.hint
    assert "page size" in error.hint


def test_unparseable_200_is_a_format_error() -> None:
    error = fetch_error(httpx.Response(200, content=b'[{"PatNum": 1, "LName": <html>'))
    assert isinstance(error, ResponseFormatError)
    assert error.truncated
    assert error.attempts == 2
    assert "documented format. The body is not whole JSON" in str(error)
    assert "<html>" not in str(error)


def test_non_array_body_is_a_format_error() -> None:
    error = fetch_error(httpx.Response(200, json={"PatNum": 1}))
    assert isinstance(error, ResponseFormatError)
    assert not error.truncated
    assert "JSON array" in str(error)


def test_other_status_is_a_plain_open_dental_error() -> None:
    error = fetch_error(httpx.Response(418, text="teapot"))
    assert type(error) is OpenDentalError
    assert error.status == 418


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('"Patient not found."', "Patient not found."),
        ("Patient not found.", "Patient not found."),
        ('{"message": "Bad thing"}', "Bad thing"),
        (HTML, "502 Bad Gateway"),
        ("<html><body><p>Oops &amp; sorry</p></body></html>", "Oops & sorry"),
        ("  line one\n\n  line two ", "line one line two"),
        ("", ""),
    ],
)
def test_clean_server_message(body: str, expected: str) -> None:
    assert clean_server_message(body.encode()) == expected


def test_clean_server_message_truncates() -> None:
    cleaned = clean_server_message("x" * 1000, limit=50)
    assert len(cleaned) == 50
    assert cleaned.endswith("…")


def test_error_for_status_without_context() -> None:
    error = error_for_status(504, "slow", ErrorContext(page_size=1000))
    assert isinstance(error, RequestTimeoutError)
    assert "1000" in error.hint
    assert isinstance(error_for_status(501, ""), ServerError)
    assert not error_for_status(501, "").retryable
    assert error_for_status(502, "").retryable
