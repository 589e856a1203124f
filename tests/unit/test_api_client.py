"""The client: headers, modes (base URL, page size, pacing), auto mode, settings precedence."""

from __future__ import annotations

import httpx
import pytest

import odbridge
from odbridge.api.client import Client
from odbridge.api.retry import RetryPolicy
from odbridge.config import ConfigError, Mode, Tier

pytestmark = pytest.mark.unit

DEV = "dev-SECRET-7f3a"
CUST = "cust-SECRET-99b1"


def recording(seen: list[httpx.Request], body: object = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[] if body is None else body)

    return httpx.MockTransport(handler)


def test_every_request_has_json_content_type_user_agent_and_auth() -> None:
    seen: list[httpx.Request] = []
    with Client(DEV, CUST, mode="local", transport=recording(seen, {"PatNum": 3})) as client:
        client.patients.get(3)
        client.get_json("/patients/Simple")
    for request in seen:
        assert request.method == "GET"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == f"odbridge/{odbridge.__version__}"
        assert request.headers["Authorization"].startswith("ODFHIR ")
    assert str(seen[0].url) == "http://localhost:30222/api/v1/patients/3"


def test_default_timeout_outlasts_the_servers_60_seconds() -> None:
    seen: list[httpx.Request] = []
    with Client(DEV, CUST, transport=recording(seen)) as client:
        client.get_json("/patients/Simple")
    timeout = seen[0].extensions["timeout"]
    assert timeout["read"] == 70.0
    assert timeout["connect"] <= 10.0


@pytest.mark.parametrize(
    ("mode", "tier", "url", "page_size", "interval"),
    [
        ("remote", "read-all", "https://api.opendental.com/api/v1", 100, 5.0),
        ("remote", "full", "https://api.opendental.com/api/v1", 100, 1.0),
        ("remote", "enterprise", "https://api.opendental.com/api/v1", 1000, 0.5),
        ("local", "read-all", "http://localhost:30222/api/v1", 1000, 0.0),
        ("service", "full", "http://localhost:30223/api/v1", 1000, 0.0),
        ("local", "enterprise", "http://localhost:30222/api/v1", 1000, 0.0),
    ],
)
def test_mode_sets_base_url_page_size_and_pacing(
    mode: str, tier: str, url: str, page_size: int, interval: float
) -> None:
    with Client(DEV, CUST, mode=mode, tier=tier) as client:  # type: ignore[arg-type]
        assert client.mode == Mode(mode)
        assert client.base_url == url
        assert client.page_size == page_size
        assert client.rate_interval == interval


def test_service_host_and_explicit_overrides() -> None:
    with Client(DEV, CUST, mode="service", service_host="db1") as client:
        assert client.base_url == "http://db1:30223/api/v1"
    with Client(
        DEV, CUST, base_url="http://127.0.0.1:8000/api/v1/", tier="full", rate_interval=0.2
    ) as client:
        assert client.base_url == "http://127.0.0.1:8000/api/v1"
        assert client.mode is Mode.REMOTE
        assert client.rate_interval == 0.2
        assert client.page_size == 100


def test_page_size_is_clamped_to_the_mode_cap() -> None:
    with Client(DEV, CUST, mode="remote", tier="full", page_size=5000) as client:
        assert client.page_size == 100
    with Client(DEV, CUST, mode="local", page_size=250) as client:
        assert client.page_size == 250


def test_auto_mode_uses_the_first_mode_that_answers() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host}:{request.url.port}")
        if request.url.port == 30222:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json=[])

    client = Client(DEV, CUST, mode="auto", transport=httpx.MockTransport(handler))
    with client:
        assert seen == []  # probing waits for first use
        assert client.mode is Mode.SERVICE
        assert client.base_url == "http://localhost:30223/api/v1"
        assert client.rate_interval == 0
        client.patients.list()
    assert seen == ["localhost:30222", "localhost:30223", "localhost:30223"]


def test_auto_mode_counts_an_http_error_as_an_answer() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json="Invalid"))
    with Client(DEV, CUST, mode="auto", transport=transport) as client:
        assert client.mode is Mode.LOCAL


def test_auto_mode_falls_back_to_remote_without_probing_it() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.host))
        raise httpx.ConnectError("refused")

    with Client(DEV, CUST, mode="auto", tier="full", transport=httpx.MockTransport(handler)) as c:
        assert c.mode is Mode.REMOTE
        assert c.rate_interval == 1.0
    assert "api.opendental.com" not in seen


def test_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODBRIDGE_DEVELOPER_KEY", "env-dev")
    monkeypatch.setenv("ODBRIDGE_CUSTOMER_KEY", "env-cust")
    monkeypatch.setenv("ODBRIDGE_TIER", "enterprise")
    monkeypatch.setenv("ODBRIDGE_MODE", "remote")
    seen: list[httpx.Request] = []
    with Client(transport=recording(seen)) as client:
        assert client.profile.tier is Tier.ENTERPRISE
        client.get_json("/x")
    assert seen[0].headers["Authorization"] == "ODFHIR env-dev/env-cust"
    with Client(DEV, tier="full", transport=recording(seen)) as client:
        assert client.profile.tier is Tier.FULL
    assert client.profile.customer_key is not None
    assert client.profile.customer_key.get_secret_value() == "env-cust"


def test_missing_keys_are_a_config_error_naming_where_to_set_them() -> None:
    with pytest.raises(ConfigError) as caught:
        Client(DEV)
    assert "customer key" in str(caught.value)
    assert "ODBRIDGE_CUSTOMER_KEY" in caught.value.hint
    assert DEV not in str(caught.value)


def test_context_manager_closes_the_session() -> None:
    with Client(DEV, CUST) as client:
        session = client._http
        assert not session.is_closed
    assert session.is_closed


def test_stats_snapshot_is_json_ready() -> None:
    seen: list[httpx.Request] = []
    with Client(DEV, CUST, mode="local", transport=recording(seen, [{"PatNum": 1}])) as client:
        list(client.patients.list())
        stats = client.stats.as_dict()
    assert stats["requests"] == 1
    assert stats["pages"] == 1
    assert stats["rows"] == 1
    assert stats["by_status"] == {"200": 1}


def test_decimal_numbers_stay_exact() -> None:
    seen: list[httpx.Request] = []
    body = [{"PatNum": 1, "EstBalance": 0.1}]
    with Client(DEV, CUST, mode="local", transport=recording(seen, body)) as client:
        assert str(client.get_json("/patients/Simple")[0]["EstBalance"]) == "0.1"


def test_retry_policy_is_configurable() -> None:
    policy = RetryPolicy(max_attempts=2)
    with Client(DEV, CUST, retry=policy) as client:
        assert client.retry_policy is policy
