"""Every error class from the simulator's real statuses and bodies, over real HTTP."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from odbridge.api.client import Client
from odbridge.api.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailedError,
    EConnectorError,
    MethodNotAllowedError,
    NotFoundError,
    OpenDentalError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
)
from odbridge.api.retry import RetryPolicy
from odbridge.simulator.server import SimulatorServer
from tests.helpers import CUST_KEY, DEV_KEY, SimulatorFactory

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=2, initial=0.01, max_wait=0.05, jitter=0, max_retry_after=0.05)


def client_for(sim: SimulatorServer, **overrides: Any) -> Client:
    values: dict[str, Any] = {
        "developer_key": DEV_KEY,
        "customer_key": CUST_KEY,
        "base_url": sim.base_url,
        "tier": sim.settings.tier,
        "rate_interval": sim.settings.interval,
        "retry": FAST,
    }
    values.update(overrides)
    return Client(**values)


def first_error(client: Client) -> OpenDentalError:
    with client, pytest.raises(OpenDentalError) as caught:
        client.patients.list()
    error = caught.value
    text = f"{error} {error!r}"
    assert DEV_KEY not in text
    assert CUST_KEY not in text
    return error


def test_wrong_customer_key(simulator: SimulatorServer) -> None:
    error = first_error(client_for(simulator, customer_key="wrong-cust"))
    assert isinstance(error, AuthenticationError)
    assert error.server_message == "Invalid CustomerKey."
    assert "Setup > Advanced Setup > API" in error.hint
    assert error.attempts == 1


def test_wrong_developer_key(simulator: SimulatorServer) -> None:
    error = first_error(client_for(simulator, developer_key="wrong-dev"))
    assert isinstance(error, AuthenticationError)
    assert "Developer Portal" in error.hint


def test_disabled_customer_key(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(disabled_customer_keys=[CUST_KEY])
    error = first_error(client_for(sim))
    assert isinstance(error, AuthenticationError)
    assert "disabled" in error.hint


def test_basic_auth_is_refused_with_a_hint(simulator: SimulatorServer) -> None:
    error = first_error(client_for(simulator, auth_scheme="basic"))
    assert isinstance(error, AuthenticationError)
    assert "ODFHIR" in error.server_message
    assert "not the documented scheme" in error.hint


def test_basic_auth_works_where_accepted(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(accept_basic=True, patients=5)
    with client_for(sim, auth_scheme="basic") as client:
        assert len(client.patients.list().items) == 5


def test_econnector_down(simulator: SimulatorServer) -> None:
    simulator.set_faults({"econnector": 1.0})
    error = first_error(client_for(simulator))
    assert isinstance(error, EConnectorError)
    assert "eConnector" in error.server_message
    assert "eServices" in error.hint
    assert error.attempts == 2  # passing trouble at the office: retried


def test_bad_parameter(simulator: SimulatorServer) -> None:
    with client_for(simulator) as client, pytest.raises(BadRequestError) as caught:
        client.get_json("/patients/Simple", {"DateTStamp": "yesterday"})
    assert "yyyy-MM-dd HH:mm:ss" in caught.value.server_message


def test_patient_not_found_and_unknown_path(simulator: SimulatorServer) -> None:
    with client_for(simulator) as client:
        with pytest.raises(NotFoundError, match="Patient not found"):
            client.patients.get(987654)
        with pytest.raises(NotFoundError):
            client.get_json("/nothing-here")


def test_method_not_allowed(simulator: SimulatorServer) -> None:
    with client_for(simulator) as client, pytest.raises(MethodNotAllowedError) as caught:
        client.request_json("DELETE", "/patients/1")
    assert caught.value.status == 405


def test_throttled_beyond_retries(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(rate_interval=5.0)
    client = client_for(sim, rate_interval=0, retry=RetryPolicy(max_attempts=1))
    with client:
        client.patients.list()
        with pytest.raises(RateLimitError) as caught:
            client.patients.list()
    assert caught.value.retry_after == 5.0
    assert "tier" in caught.value.hint
    assert client.stats.throttled == 1


def test_server_error(simulator: SimulatorServer) -> None:
    simulator.set_faults({"error500": 1.0})
    error = first_error(client_for(simulator))
    assert isinstance(error, ServerError)
    assert error.status == 500
    assert error.attempts == 2


def test_gateway_timeout(simulator: SimulatorServer) -> None:
    simulator.set_faults({"timeout": 1.0, "timeout_seconds": 0.05})
    error = first_error(client_for(simulator))
    assert isinstance(error, RequestTimeoutError)
    assert error.status == 504
    assert "page size" in error.hint


def test_client_read_timeout(simulator: SimulatorServer) -> None:
    simulator.set_faults({"slow": 1.0, "slow_seconds": 1.0})
    error = first_error(client_for(simulator, timeout=0.2))
    assert isinstance(error, RequestTimeoutError)
    assert error.status is None


@pytest.mark.parametrize("fault", ["reset", "truncated"])
def test_dropped_connection(simulator: SimulatorServer, fault: str) -> None:
    simulator.set_faults({fault: 1.0})
    error = first_error(client_for(simulator))
    assert isinstance(error, ConnectionFailedError)
    assert "dropped" in error.hint
    assert error.attempts == 2


def test_malformed_body(simulator: SimulatorServer) -> None:
    simulator.set_faults({"malformed": 1.0})
    error = first_error(client_for(simulator))
    assert isinstance(error, ResponseFormatError)
    assert error.truncated
    assert "<html>" not in str(error)


def test_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(
        DEV_KEY,
        CUST_KEY,
        mode="local",
        base_url=f"http://127.0.0.1:{port}/api/v1",
        retry=FAST,
    )
    error = first_error(client)
    assert isinstance(error, ConnectionFailedError)
    assert error.status is None
    assert "Open Dental runs and is logged in" in error.hint


def test_a_refused_connection_gives_up_after_one_retry_not_six() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    policy = RetryPolicy(initial=0.01, jitter=0, sleep=sleeps.append)
    client = Client(
        DEV_KEY,
        CUST_KEY,
        base_url=f"http://127.0.0.1:{port}/api/v1",
        rate_interval=0,
        retry=policy,
        trust_env=False,
    )
    with client, pytest.raises(ConnectionFailedError) as caught:
        client.patients.get(1)
    assert caught.value.refused
    assert caught.value.attempts == policy.refused_attempts == 2
    assert len(sleeps) == 1


def test_a_base_url_without_api_v1_is_named_in_the_hint(simulator: SimulatorServer) -> None:
    bare = simulator.base_url.removesuffix("/api/v1")
    assert bare != simulator.base_url
    error = first_error(client_for(simulator, base_url=bare))
    assert isinstance(error, NotFoundError)
    assert "does not end in /api/v1" in error.hint
    assert "PatNum" not in error.hint


def test_a_missing_patient_gets_the_patnum_hint(simulator: SimulatorServer) -> None:
    with client_for(simulator) as client, pytest.raises(NotFoundError) as caught:
        client.patients.get(999_999)
    assert "PatNum" in caught.value.hint
