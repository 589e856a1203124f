"""``diagnose``: each failure lands on the right check, with a fix and no key."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from odbridge.api.diagnose import CHECKS, CheckResult, diagnose
from odbridge.api.retry import RetryPolicy
from odbridge.config import PracticeProfile

pytestmark = pytest.mark.unit

DEV = "dev-SECRET-7f3a"
CUST = "cust-SECRET-99b1"
NO_RETRY = RetryPolicy(max_attempts=1)


def profile(**changes: object) -> PracticeProfile:
    values: dict[str, object] = {
        "developer_key": DEV,
        "customer_key": CUST,
        "base_url": "http://od.test/api/v1",
        "tier": "full",
        "rate_interval": 0.01,
    }
    values.update(changes)
    return PracticeProfile.model_validate(values)


def run(
    handler: Callable[[httpx.Request], httpx.Response], **changes: object
) -> dict[str, CheckResult]:
    results = diagnose(profile(**changes), transport=httpx.MockTransport(handler), retry=NO_RETRY)
    assert [r.name for r in results] == list(CHECKS)
    for result in results:
        text = f"{result.detail} {result.fix}"
        assert DEV not in text
        assert CUST not in text
    return {r.name: r for r in results}


def healthy(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/patients/Simple"):
        return httpx.Response(200, json=[{"PatNum": 17, "LName": "Secretname"}])
    return httpx.Response(200, json={"PatNum": 17, "LName": "Secretname"})


def status_of(results: dict[str, CheckResult]) -> list[str]:
    return [results[name].status for name in CHECKS]


def test_all_checks_pass() -> None:
    results = run(healthy)
    assert status_of(results) == ["ok"] * 6
    assert "PatNum 17" in results["patient"].detail
    assert "Secretname" not in str(results)
    assert "0.01 s" in results["rate"].detail
    assert "0 throttled" in results["rate"].detail
    assert "measured" in results["rate"].detail


def test_missing_key_fails_configuration_and_skips_the_rest() -> None:
    results = run(healthy, customer_key=None)
    assert status_of(results) == ["fail"] + ["skipped"] * 5
    assert "ODBRIDGE_CUSTOMER_KEY" in results["configuration"].fix


def test_connection_refused_fails_reachable() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    results = run(refused, mode="local", base_url=None)
    assert status_of(results) == ["ok", "fail"] + ["skipped"] * 4
    assert "localhost:30222" in results["reachable"].detail
    assert "logged in" in results["reachable"].fix


def test_wrong_base_url_fails_reachable() -> None:
    results = run(lambda request: httpx.Response(404, text="<html><h1>Not Found</h1></html>"))
    assert results["reachable"].status == "fail"
    assert "not as the Open Dental API" in results["reachable"].detail
    assert "<" not in results["reachable"].detail


def test_rejected_keys_fail_keys() -> None:
    results = run(lambda request: httpx.Response(401, json="Invalid DeveloperKey."))
    assert status_of(results) == ["ok", "ok", "fail", "skipped", "skipped", "skipped"]
    assert "Developer Portal" in results["keys"].fix


def test_econnector_down_fails_econnector() -> None:
    message = "The eConnector for this office is not running."
    results = run(lambda request: httpx.Response(400, json=message))
    assert status_of(results) == ["ok", "ok", "ok", "fail", "skipped", "skipped"]
    assert "eConnector" in results["econnector"].fix


def test_throttled_fails_rate() -> None:
    calls: list[int] = []

    def throttling(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, json="Too many", headers={"Retry-After": "0"})
        return healthy(request)

    results = diagnose(
        profile(),
        transport=httpx.MockTransport(throttling),
        retry=RetryPolicy(max_attempts=2, sleep=lambda _: None),
    )
    by_name = {r.name: r for r in results}
    assert by_name["patient"].ok
    assert by_name["rate"].status == "fail"
    assert "1 throttled" in by_name["rate"].detail
    assert "tier" in by_name["rate"].fix


def test_empty_practice_is_fine() -> None:
    results = run(lambda request: httpx.Response(200, json=[]))
    assert results["patient"].ok
    assert "no patients" in results["patient"].detail


def test_unreadable_patient_fails_patient() -> None:
    def broken_single(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/patients/Simple"):
            return httpx.Response(200, json=[{"PatNum": 17}])
        return httpx.Response(200, json={"PatNum": "seventeen"})

    results = run(broken_single)
    assert results["patient"].status == "fail"
    assert "PatNum: expected an integer" in results["patient"].detail


def test_check_result_titles() -> None:
    assert CheckResult("keys", True, "x").title == "Keys accepted"
    assert CheckResult("keys", False, "x", skipped=True).status == "skipped"
