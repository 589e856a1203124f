"""The simulator's gatekeeping over real HTTP: keys, schemes and the Content-Type header."""

from __future__ import annotations

import base64

import httpx
import pytest

from odbridge.simulator.server import SimulatorServer
from tests.helpers import CUST_KEY, DEV_KEY, HEADERS, SimulatorFactory

pytestmark = pytest.mark.integration


def get(sim: SimulatorServer, headers: dict[str, str], path: str = "/patients/1") -> httpx.Response:
    return httpx.get(sim.base_url + path, headers=headers, timeout=10)


def test_documented_header_is_accepted(simulator: SimulatorServer) -> None:
    response = get(simulator, HEADERS)
    assert response.status_code == 200
    assert response.json()["PatNum"] == 1


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, "missing"),
        (f"ODFHIR {DEV_KEY}", "malformed"),
        (f"ODFHIR {DEV_KEY}/", "malformed"),
        (f"ODFHIR wrong-dev/{CUST_KEY}", "Invalid DeveloperKey."),
        (f"ODFHIR {DEV_KEY}/wrong-cust", "Invalid CustomerKey."),
        (f"Bearer {DEV_KEY}", "not supported"),
    ],
)
def test_bad_authorization_gets_401_with_short_message(
    simulator: SimulatorServer, authorization: str | None, expected: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = get(simulator, headers)
    assert response.status_code == 401
    message = response.json()
    assert isinstance(message, str)
    assert expected in message
    assert len(message) < 200


def _basic() -> str:
    return "Basic " + base64.b64encode(f"{DEV_KEY}:{CUST_KEY}".encode()).decode()


def test_basic_is_refused_with_a_message_naming_odfhir(simulator: SimulatorServer) -> None:
    response = get(simulator, {"Authorization": _basic(), "Content-Type": "application/json"})
    assert response.status_code == 401
    assert "ODFHIR" in response.json()


def test_basic_is_accepted_when_enabled(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(accept_basic=True)
    response = get(sim, {"Authorization": _basic(), "Content-Type": "application/json"})
    assert response.status_code == 200


def test_disabled_key_gets_401(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(disabled_customer_keys=[CUST_KEY])
    response = get(sim, HEADERS)
    assert response.status_code == 401
    assert "disabled" in response.json()


def test_key_disabled_at_run_time_then_enabled(simulator: SimulatorServer) -> None:
    control = f"{simulator.root_url}/_simulator/keys"
    httpx.post(control, json={"customer_key": CUST_KEY, "enabled": False}).raise_for_status()
    assert get(simulator, HEADERS).status_code == 401
    httpx.post(control, json={"customer_key": CUST_KEY, "enabled": True}).raise_for_status()
    assert get(simulator, HEADERS).status_code == 200


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_missing_content_type_gets_400_with_explanation(
    simulator: SimulatorServer, content_type: str | None
) -> None:
    headers = {"Authorization": HEADERS["Authorization"]}
    if content_type:
        headers["Content-Type"] = content_type
    response = get(simulator, headers)
    assert response.status_code == 400
    assert "Content-Type" in response.json()


def test_auth_is_checked_before_content_type(simulator: SimulatorServer) -> None:
    assert get(simulator, {}).status_code == 401


def test_unknown_resource_is_404(simulator: SimulatorServer) -> None:
    response = get(simulator, HEADERS, "/nothinghere")
    assert response.status_code == 404
    assert response.json() == "Resource not found."


def test_keys_never_reach_the_request_log(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="odbridge.simulator")
    httpx.get(
        simulator.base_url + "/patients/Simple",
        params={"LName": "Smith", "Limit": 2},
        headers=HEADERS,
    )
    get(simulator, {"Authorization": f"ODFHIR {DEV_KEY}/wrong", "Content-Type": "application/json"})
    text = caplog.text
    assert "/api/v1/patients/Simple?LName&Limit 200" in text
    assert DEV_KEY not in text
    assert CUST_KEY not in text
    assert "Smith" not in text
