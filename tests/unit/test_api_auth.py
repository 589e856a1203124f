"""Authentication headers, and keys kept out of every repr, message and log line."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from odbridge.api.auth import BasicKeyAuth, ODFHIRAuth, make_auth, mask
from odbridge.api.client import Client
from odbridge.api.errors import AuthenticationError, OpenDentalError
from odbridge.api.retry import RetryPolicy
from odbridge.config import resolve_profile

pytestmark = pytest.mark.unit

DEV = "dev-SECRET-7f3a"
CUST = "cust-SECRET-99b1"
URL = "http://od.test/api/v1"

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, **kwargs: object) -> Client:
    return Client(
        DEV,
        CUST,
        base_url=URL,
        rate_interval=0,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=2, sleep=lambda _: None),
        **kwargs,  # type: ignore[arg-type]
    )


def capture(seen: list[httpx.Request], response: httpx.Response) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return handler


def test_odfhir_header_is_sent_by_default() -> None:
    seen: list[httpx.Request] = []
    with client_for(capture(seen, httpx.Response(200, json=[]))) as client:
        client.patients.list()
    assert seen[0].headers["Authorization"] == f"ODFHIR {DEV}/{CUST}"


def test_basic_only_when_asked() -> None:
    seen: list[httpx.Request] = []
    with client_for(capture(seen, httpx.Response(200, json=[])), auth_scheme="basic") as client:
        client.patients.list()
    expected = base64.b64encode(f"{DEV}:{CUST}".encode()).decode()
    assert seen[0].headers["Authorization"] == f"Basic {expected}"


def test_make_auth_schemes() -> None:
    assert isinstance(make_auth(DEV, CUST), ODFHIRAuth)
    assert isinstance(make_auth(DEV, SecretStr(CUST), "basic"), BasicKeyAuth)
    with pytest.raises(ValueError, match="unknown auth scheme"):
        make_auth(DEV, CUST, "bearer")  # type: ignore[arg-type]


def test_mask() -> None:
    assert mask(DEV) == "***"
    assert mask(SecretStr(CUST)) == "***"
    assert mask(None) == "(not set)"
    assert mask("") == "(not set)"


def test_reprs_never_show_keys() -> None:
    profile = resolve_profile(developer_key=DEV, customer_key=CUST, base_url=URL)
    with client_for(capture([], httpx.Response(200, json=[]))) as client:
        texts = [
            repr(ODFHIRAuth(DEV, CUST)),
            str(BasicKeyAuth(DEV, CUST)),
            repr(client),
            repr(profile),
            str(profile),
            str(profile.describe()),
            repr(client.profile),
        ]
    for text in texts:
        assert DEV not in text, text
        assert CUST not in text, text


def test_keys_absent_from_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    def echoing(request: httpx.Request) -> httpx.Response:
        # A hostile server that echoes the Authorization header back in its message.
        return httpx.Response(401, json=f"Bad header: {request.headers['Authorization']}")

    caplog.set_level(logging.DEBUG)
    with client_for(echoing) as client, pytest.raises(AuthenticationError) as caught:
        client.patients.list(lname="Zyxwicki")
    error = caught.value
    texts = [str(error), repr(error), error.server_message, error.hint, caplog.text]
    for text in texts:
        assert DEV not in text
        assert CUST not in text
    assert "***" in error.server_message
    assert "Zyxwicki" not in caplog.text  # query values are PHI: names only in logs
    assert "LName" in caplog.text


@pytest.mark.parametrize("status", [400, 404, 429, 500, 504])
def test_no_error_class_carries_a_key(status: int) -> None:
    handler = capture([], httpx.Response(status, text=f"failed for {CUST}"))
    with client_for(handler) as client, pytest.raises(OpenDentalError) as caught:
        client.patients.list()
    assert CUST not in str(caught.value)
    assert DEV not in str(caught.value)
