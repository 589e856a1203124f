"""Retry classification, backoff, Retry-After, and the client's retry counters."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from tenacity import RetryCallState, Retrying

from odbridge.api.client import Client
from odbridge.api.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    EConnectorError,
    GoneError,
    MethodNotAllowedError,
    NotFoundError,
    OfficeNetworkError,
    OpenDentalError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
)
from odbridge.api.pacing import Pacer
from odbridge.api.retry import (
    RetryNotice,
    RetryPolicy,
    classify_status,
    is_transient,
    parse_retry_after,
)

pytestmark = pytest.mark.unit

REQUEST = httpx.Request("GET", "http://od.test/api/v1/patients/Simple")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "ok"),
        (201, "ok"),
        (429, "transient"),
        (500, "transient"),
        (502, "transient"),
        (503, "transient"),
        (504, "transient"),
        (400, "permanent"),
        (401, "permanent"),
        (404, "permanent"),
        (405, "permanent"),
        (410, "permanent"),
    ],
)
def test_classify_status(status: int, kind: str) -> None:
    assert classify_status(status) == kind


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (httpx.ConnectError("refused", request=REQUEST), True),
        (httpx.ReadError("reset", request=REQUEST), True),
        (httpx.RemoteProtocolError("incomplete", request=REQUEST), True),
        (httpx.ReadTimeout("slow", request=REQUEST), True),
        (ConnectionFailedError(), True),
        (RateLimitError(), True),
        (ServerError(500), True),
        (ServerError(503), True),
        (ServerError(501), False),
        (RequestTimeoutError(504), True),
        (ResponseFormatError("cut", truncated=True), True),
        (ResponseFormatError("PatNum: expected an integer"), False),
        (AuthenticationError(401), False),
        (EConnectorError(400), True),  # the office's eConnector: passing trouble
        (OfficeNetworkError(400), True),
        (BadRequestError(400), False),
        (NotFoundError(404), False),
        (MethodNotAllowedError(405), False),
        (GoneError(410), False),
        (ValueError("x"), False),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-2") == 0.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


def _state(policy: RetryPolicy, attempt: int, exc: BaseException) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap() -> None:
    policy = RetryPolicy(initial=0.5, max_wait=4.0, jitter=0.25)
    waits = [policy.wait_seconds(_state(policy, n, ServerError(500))) for n in range(1, 7)]
    floors = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for wait, floor in zip(waits, floors, strict=True):
        assert floor <= wait <= floor + 0.25


def test_retry_after_replaces_backoff_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=10)
    assert policy.wait_seconds(_state(policy, 1, RateLimitError(retry_after=3))) == 3
    assert policy.wait_seconds(_state(policy, 1, RateLimitError(retry_after=500))) == 10


def test_policy_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


def scripted(responses: list[httpx.Response | Exception]) -> httpx.MockTransport:
    queue: Iterator[httpx.Response | Exception] = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = next(queue)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler)


def make_client(transport: httpx.MockTransport, sleeps: list[float], attempts: int = 6) -> Client:
    policy = RetryPolicy(max_attempts=attempts, initial=0.1, jitter=0, sleep=sleeps.append)
    return Client(
        "dev",
        "cust",
        base_url="http://od.test/api/v1",
        rate_interval=0,
        transport=transport,
        retry=policy,
    )


def test_transient_failures_are_retried_and_counted() -> None:
    sleeps: list[float] = []
    transport = scripted(
        [
            httpx.Response(500, json="boom"),
            httpx.ReadError("reset"),
            httpx.Response(200, content=b'[{"PatNum": 1'),
            httpx.Response(429, json="slow", headers={"Retry-After": "2"}),
            httpx.Response(503, text="busy"),
            httpx.Response(200, json=[{"PatNum": 1}]),
        ]
    )
    with make_client(transport, sleeps) as client:
        rows = client.patients.list()
        stats = client.stats.as_dict()
    assert [p.pat_num for p in rows] == [1]
    assert stats["requests"] == 6
    assert stats["retries"] == 5
    assert stats["throttled"] == 1
    assert stats["transport_errors"] == 1
    assert stats["by_status"] == {"200": 2, "429": 1, "500": 1, "503": 1}
    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 2.0, 1.6])


@pytest.mark.parametrize("status", [400, 401, 404, 405, 410])
def test_permanent_failures_are_not_retried(status: int) -> None:
    sleeps: list[float] = []
    transport = scripted([httpx.Response(status, json="no"), httpx.Response(200, json=[])])
    with make_client(transport, sleeps) as client, pytest.raises(OpenDentalError) as caught:
        client.patients.list()
    assert caught.value.status == status
    assert client.stats.requests == 1
    assert client.stats.retries == 0
    assert sleeps == []


def test_gives_up_after_max_attempts() -> None:
    sleeps: list[float] = []
    transport = scripted([httpx.Response(502, text="bad gateway")] * 3)
    with make_client(transport, sleeps, attempts=3) as client, pytest.raises(ServerError) as e:
        client.patients.list()
    assert e.value.attempts == 3
    assert client.stats.requests == 3
    assert client.stats.retries == 2


def test_the_wait_before_a_retry_includes_the_pacers_wait() -> None:
    policy = RetryPolicy(initial=0.1, jitter=0, sleep=lambda _: None)
    announced: list[tuple[float, bool]] = []

    def note(notice: RetryNotice) -> None:
        announced.append((notice.wait, notice.paced))

    for ready in (3.0, 0.0):
        calls = iter([ServerError(500), None])

        def ready_in(seconds: float = ready) -> float:
            return seconds

        for attempt in policy.retrying(on_retry=note, ready_in=ready_in):
            with attempt:
                failure = next(calls)
                if failure is not None:
                    raise failure
    assert announced == [(3.0, True), (0.1, False)]  # the pacer's slot when later


def test_pacer_ready_in_counts_down_to_the_next_free_slot() -> None:
    now = [100.0]
    pacer = Pacer(1.0, margin=0.0, clock=lambda: now[0], sleep=lambda _: None)
    assert pacer.ready_in() == 0.0
    pacer.reserve()
    assert pacer.ready_in() == pytest.approx(1.0)
    now[0] += 0.4
    assert pacer.ready_in() == pytest.approx(0.6)
    now[0] += 5
    assert pacer.ready_in() == 0.0


def test_retrying_says_the_real_wait_when_the_pacer_is_longer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleeps: list[float] = []
    transport = scripted([httpx.Response(500, json="boom"), httpx.Response(200, json=[])])
    policy = RetryPolicy(initial=0.01, jitter=0, sleep=sleeps.append)
    client = Client(
        "dev",
        "cust",
        base_url="http://od.test/api/v1",
        rate_interval=1.0,  # one request a second: the retry must wait for the next slot
        transport=transport,
        retry=policy,
    )
    with caplog.at_level(logging.INFO, logger="odbridge.api"), client:
        client.patients.list()
    assert len(sleeps) == 1
    assert sleeps[0] > 0.01  # the pacer's slot, not the 0.01 s backoff
    messages = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert messages == [
        f"retrying after HTTP 500 (attempt 2 of 6) in {sleeps[0]:.2f} s "
        "(the rate limit's next free slot)"
    ]
