"""``odbridge check``: is everything in place to read this practice's patients?

:func:`diagnose` walks the chain a connection needs, with as few requests as possible (two:
one page of one patient, then that patient) because a remote key may allow only one
request every 5 s. Each step gives a :class:`CheckResult` with a fix for people; a step
after a failed one is skipped. Nothing in the results holds a key or a patient field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from odbridge.api.client import Client
from odbridge.api.errors import (
    AuthenticationError,
    ConnectionFailedError,
    EConnectorError,
    GoneError,
    MethodNotAllowedError,
    NotFoundError,
    OpenDentalError,
    RequestTimeoutError,
    ResponseFormatError,
)
from odbridge.api.retry import RetryPolicy
from odbridge.config import ConfigError, Mode, PracticeProfile

__all__ = ["CHECKS", "CheckResult", "diagnose"]

T = TypeVar("T")

CHECKS = ("configuration", "reachable", "keys", "econnector", "patient", "rate")
"""The names of the checks, in the order they run."""

TITLES = {
    "configuration": "Settings complete",
    "reachable": "Base URL reachable",
    "keys": "Keys accepted",
    "econnector": "eConnector up",
    "patient": "One patient readable",
    "rate": "Request rate within the tier",
}

_NOT_THE_API = (NotFoundError, MethodNotAllowedError, GoneError, ResponseFormatError)

DIAGNOSE_RETRY = RetryPolicy(max_attempts=2, initial=0.5, max_wait=2.0, jitter=0.2)


@dataclass(frozen=True)
class CheckResult:
    """One step of the check: ``ok``, what was seen (``detail``) and what to do (``fix``)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False

    @property
    def title(self) -> str:
        """A human title for the step."""
        return TITLES.get(self.name, self.name)

    @property
    def status(self) -> str:
        """``ok``, ``fail`` or ``skipped``."""
        return "skipped" if self.skipped else ("ok" if self.ok else "fail")


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, detail)


def _fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, False, detail, fix)


def _skip_rest(results: list[CheckResult], reason: str) -> list[CheckResult]:
    done = {r.name for r in results}
    skipped = [CheckResult(n, False, f"skipped: {reason}", skipped=True) for n in CHECKS]
    return results + [r for r in skipped if r.name not in done]


def _error_detail(exc: OpenDentalError) -> str:
    if isinstance(exc, ResponseFormatError):
        return str(exc).split("\n")[0]
    status = f"HTTP {exc.status}" if exc.status is not None else "no answer"
    said = exc.server_message or exc.detail
    return f"{status}: {said}" if said else f"{status}: {exc.summary}"


class _Timed:
    """Calls through a client, keeping the (paced) start time of each request."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.starts: list[float] = []

    def run(self, call: Callable[[], T]) -> T:
        before_wait = self.client.stats.paced_seconds
        called = time.monotonic()
        try:
            return call()
        finally:
            waited = self.client.stats.paced_seconds - before_wait
            self.starts.append(called + max(waited, 0.0))


def diagnose(
    settings: PracticeProfile,
    *,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy = DIAGNOSE_RETRY,
) -> list[CheckResult]:
    """Check, in order: settings, reachability, keys, eConnector, one patient, rate."""
    results: list[CheckResult] = []
    try:
        client = Client(profile=settings, transport=transport, retry=retry)
    except ConfigError as exc:
        results.append(_fail("configuration", str(exc).split("\n")[0], exc.hint))
        return _skip_rest(results, "settings incomplete")
    with client:
        return _run(client, settings, results)


def _run(
    client: Client, settings: PracticeProfile, results: list[CheckResult]
) -> list[CheckResult]:
    mode = client.mode
    described = settings.describe()
    results.append(
        _ok(
            "configuration",
            f"practice {settings.name}, mode {described['mode']}"
            + (f" (chose {mode})" if settings.mode is Mode.AUTO else "")
            + f", tier {settings.tier}, page size {client.page_size}",
        )
    )
    timed = _Timed(client)
    first: Any = None
    try:
        first = timed.run(lambda: client.get_json("/patients/Simple", {"Limit": 1}))
    except (ConnectionFailedError, RequestTimeoutError) as exc:
        if exc.status is None:
            results.append(_fail("reachable", f"{client.base_url}: {_error_detail(exc)}", exc.hint))
            return _skip_rest(results, "server not reachable")
        results.append(_ok("reachable", f"{client.base_url} answered"))
        results.append(_fail("patient", _error_detail(exc), exc.hint))
        return _skip_rest(results, "first request failed")
    except _NOT_THE_API as exc:
        detail = f"{client.base_url} answered, but not as the Open Dental API: "
        results.append(_fail("reachable", detail + _error_detail(exc), exc.hint))
        return _skip_rest(results, "not the Open Dental API")
    except OpenDentalError as exc:
        results.append(_ok("reachable", f"{client.base_url} answered (HTTP {exc.status})"))
        return _after_error(exc, client, results)
    results.append(_ok("reachable", f"{client.base_url} answered"))
    results.append(_ok("keys", "the developer and customer keys were accepted"))
    results.append(_econnector_ok(mode))
    results.append(_read_one(timed, first))
    results.append(_rate(client, timed.starts))
    return results


def _econnector_ok(mode: Mode) -> CheckResult:
    if mode is Mode.REMOTE:
        return _ok("econnector", "the practice answered through its eConnector")
    return _ok("econnector", f"not needed in {mode} mode")


def _after_error(
    exc: OpenDentalError, client: Client, results: list[CheckResult]
) -> list[CheckResult]:
    if isinstance(exc, AuthenticationError):
        results.append(_fail("keys", _error_detail(exc), exc.hint))
        return _skip_rest(results, "keys not accepted")
    results.append(_ok("keys", "the developer and customer keys were accepted"))
    if isinstance(exc, EConnectorError):
        results.append(_fail("econnector", _error_detail(exc), exc.hint))
        return _skip_rest(results, "eConnector down")
    results.append(_econnector_ok(client.mode))
    results.append(_fail("patient", _error_detail(exc), exc.hint))
    return _skip_rest(results, "patients not readable")


def _read_one(timed: _Timed, first: Any) -> CheckResult:
    if not isinstance(first, list):
        return _fail(
            "patient", "patients/Simple did not return a list", "Check the base URL (…/api/v1)."
        )
    if not first:
        return _ok("patient", "the practice has no patients yet (nothing to read)")
    row = first[0]
    pat_num = row.get("PatNum") if isinstance(row, dict) else None
    if not isinstance(pat_num, int) or isinstance(pat_num, bool) or pat_num < 1:
        return _fail("patient", "the first row has no valid PatNum", "Check the base URL.")
    try:
        timed.run(lambda: timed.client.patients.get(pat_num))
    except OpenDentalError as exc:
        return _fail("patient", f"PatNum {pat_num}: {_error_detail(exc)}", exc.hint)
    return _ok("patient", f"read PatNum {pat_num} in full")


def _rate(client: Client, starts: list[float]) -> CheckResult:
    interval = client.rate_interval
    stats = client.stats.as_dict()
    configured = (
        "not throttled"
        if interval <= 0
        else f"{interval:g} s between requests (tier {client.profile.tier})"
    )
    measured = ""
    if len(starts) >= 2:
        measured = f", measured {starts[-1] - starts[-2]:.2f} s"
    detail = f"{configured}{measured}; {stats['requests']} requests, {stats['throttled']} throttled"
    if stats["throttled"]:
        return _fail(
            "rate",
            detail,
            "The server throttled requests: set the tier to the key's permissions "
            "(read-all 5 s, full 1 s, enterprise 0.5 s) or raise ODBRIDGE_RATE_INTERVAL; "
            "stop other programs using the same customer key.",
        )
    return _ok("rate", detail)
