"""The Open Dental API client: one configured HTTP session per practice.

    with Client(developer_key="...", customer_key="...", tier="full") as client:
        for patient in client.patients.list():   # every patient, page by page
            ...

Settings come from arguments, the environment, the TOML profile and the keyring (see
:mod:`odbridge.config`). Every request is paced to the tier's interval, retried when the
failure is transient, and turned into an :class:`~odbridge.api.errors.OpenDentalError`
with a hint when it is not.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx
from pydantic import SecretStr

from odbridge.api import logsafe
from odbridge.api.appointments import Appointments, HistAppointments
from odbridge.api.auth import make_auth
from odbridge.api.errors import (
    ConnectionFailedError,
    ErrorContext,
    OpenDentalError,
    RequestTimeoutError,
    ResponseFormatError,
    clean_server_message,
    error_for_status,
)
from odbridge.api.pacing import Pacer, pacer_for
from odbridge.api.patients import Patients
from odbridge.api.procedures import ProcedureLogs
from odbridge.api.recalls import RecallList, Recalls, RecallTypes
from odbridge.api.reference import AppointmentTypes, Clinics, Definitions, Operatories, Providers
from odbridge.api.retry import RetryNotice, RetryPolicy, parse_retry_after
from odbridge.config import (
    ConnectionArgs,
    Mode,
    PracticeProfile,
    SettingArgs,
    mode_base_url,
    resolve_profile,
)

__all__ = ["Client", "ClientStats"]

log = logging.getLogger("odbridge.api")

DEFAULT_CONNECT_TIMEOUT = 10.0
PROBE_TIMEOUT = httpx.Timeout(15.0, connect=2.0)
AUTO_ORDER = (Mode.LOCAL, Mode.SERVICE)

Params = Mapping[str, str | int]
T = TypeVar("T")


@dataclass
class ClientStats:
    """Counters for a run log: requests sent, retries, throttled answers, statuses."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    transport_errors: int = 0
    pages: int = 0
    rows: int = 0
    paced_seconds: float = 0.0
    by_status: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        """Add to counters by name, thread-safely."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def add_status(self, status: int) -> None:
        """Count one response with ``status``."""
        with self._lock:
            self.by_status[status] += 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "transport_errors": self.transport_errors,
                "pages": self.pages,
                "rows": self.rows,
                "paced_seconds": round(self.paced_seconds, 3),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            }


def _user_agent() -> str:
    from odbridge._version import __version__

    return f"odbridge/{__version__}"


def _param_names(params: Params | None) -> str:
    """Only the names: query values (LName, Birthdate, ...) can be patient data."""
    return "?" + "&".join(sorted(params)) if params else ""


_warned_urls: set[str] = set()
_warned_lock = threading.Lock()


def _first_time(url: str) -> bool:
    """True the first time a URL is seen in this process (one warning per URL)."""
    with _warned_lock:
        if url in _warned_urls:
            return False
        _warned_urls.add(url)
        return True


def _is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (plain http is harmless there)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_refused(exc: BaseException) -> bool:
    """True if the connection was refused (nothing listens there), by the chain of causes."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _decode_json(body: bytes, method: str, path: str) -> Any:
    """A 2xx body as JSON (fractions as ``Decimal``); a body cut short is retryable."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ResponseFormatError(
            "the body is not whole JSON (it may have been cut short on the way)",
            truncated=True,
            method=method,
            path=path,
        ) from None


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Client:
    """A client of one practice's Open Dental API; use it as a context manager.

    The keys and ``**settings`` are :class:`~odbridge.config.PracticeProfile`'s settings
    (``base_url``, ``mode``, ``tier``, ``rate_interval``, ``page_size``, ``service_host``,
    ``auth_scheme``, ``timeout``). Arguments override ``ODBRIDGE_*`` environment variables,
    which override the practice's table in the config file; ``trust_env=False`` reads none
    of these (nor the keyring, nor proxy variables): only the arguments count. ``env``
    replaces ``os.environ``; ``profile`` gives ready settings (arguments still override).
    ``transport`` replaces the network (tests); ``retry`` sets
    the retry policy. Resources: :attr:`patients`, :attr:`appointments`,
    :attr:`procedure_logs`, :attr:`recalls`, :attr:`providers` and the other reference
    tables. Counters: :attr:`stats`.
    """

    def __init__(
        self,
        developer_key: str | SecretStr | None = None,
        customer_key: str | SecretStr | None = None,
        *,
        practice: str | None = None,
        profile: PracticeProfile | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
        trust_env: bool = True,
        **settings: Unpack[ConnectionArgs],
    ) -> None:
        overrides: SettingArgs = {
            **settings,
            "developer_key": developer_key,
            "customer_key": customer_key,
        }
        if profile is None:
            profile = resolve_profile(practice, env=env, trust_env=trust_env, **overrides)
        else:
            profile = profile.with_overrides(**overrides)
        developer, customer = profile.require_keys()
        logsafe.install()
        self.profile = profile
        self.retry_policy = retry or RetryPolicy()
        self.stats = ClientStats()
        self._customer_key = customer
        self._redact = logsafe.SecretRedactor(k.get_secret_value() for k in (developer, customer))
        self._http = httpx.Client(
            auth=make_auth(developer, customer, profile.auth_scheme),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": _user_agent(),
            },
            timeout=httpx.Timeout(
                profile.timeout, connect=min(DEFAULT_CONNECT_TIMEOUT, profile.timeout)
            ),
            transport=transport,
            follow_redirects=False,
            trust_env=trust_env,
        )
        self._resolve_lock = threading.Lock()
        self._mode: Mode | None = None
        self._base_url = ""
        self._pacer = Pacer(0.0)
        self._page_size = 0
        if profile.mode is not Mode.AUTO:
            self._use_mode(profile.mode)
        elif profile.base_url:
            self._use_mode(Mode.REMOTE)  # an explicit URL in auto mode: assume the strictest
        self.patients = Patients(self)
        """``GET /patients/Simple`` (``list``), ``/patients`` (``search``), ``get``."""
        self.appointments = Appointments(self)
        self.hist_appointments = HistAppointments(self)
        """Deleted appointments: ``list(hist_appt_action=HistApptAction.DELETED)``."""
        self.procedure_logs = ProcedureLogs(self)
        self.recalls = Recalls(self)
        self.recall_list = RecallList(self)
        """``GET /recalls/List``: Open Dental's computed Recall List (read on demand)."""
        self.recall_types = RecallTypes(self)
        self.providers = Providers(self)
        self.clinics = Clinics(self)
        self.definitions = Definitions(self)
        self.operatories = Operatories(self)
        self.appointment_types = AppointmentTypes(self)

    # -- configuration resolved per mode ------------------------------------------------
    def _use_mode(self, mode: Mode) -> None:
        self._mode = mode
        self._base_url = self.profile.url_for(mode)
        self._page_size = self.profile.page_size_for(mode)
        interval = self.profile.interval_for(mode)
        url = httpx.URL(self._base_url)
        server = url.netloc.decode("ascii", "replace")
        self._pacer = pacer_for(self._customer_key, interval, server)
        if (
            mode is Mode.REMOTE
            and url.scheme == "http"
            and not _is_loopback(url.host)
            and _first_time(self._base_url)
        ):
            log.warning(
                "the API base URL %s is plain http: the keys and patient data would cross "
                "the network unencrypted; the remote API is https",
                self._base_url,
            )

    def _ensure_mode(self) -> Mode:
        if self._mode is not None:
            return self._mode
        with self._resolve_lock:
            mode = self._mode
            if mode is None:
                mode = self._probe_modes()
                self._use_mode(mode)
            return mode

    def _probe_modes(self) -> Mode:
        """Auto mode: the first of Local API, API Service that answers, else Remote."""
        for mode in AUTO_ORDER:
            url = mode_base_url(mode, self.profile.service_host)
            try:
                self.stats.add(requests=1)
                response = self._http.get(
                    f"{url}/patients/Simple", params={"Limit": 1}, timeout=PROBE_TIMEOUT
                )
            except httpx.TransportError as exc:
                self.stats.add(transport_errors=1)
                log.info("auto mode: %s at %s did not answer (%s)", mode, url, type(exc).__name__)
                continue
            self.stats.add_status(response.status_code)
            log.info("auto mode: using %s at %s (HTTP %d)", mode, url, response.status_code)
            return mode
        log.info("auto mode: using the remote API")
        return Mode.REMOTE

    @property
    def mode(self) -> Mode:
        """The connection mode in use (auto mode probes on first use)."""
        return self._ensure_mode()

    @property
    def base_url(self) -> str:
        """The API base URL in use, e.g. ``https://api.opendental.com/api/v1``."""
        self._ensure_mode()
        return self._base_url

    @property
    def page_size(self) -> int:
        """Rows asked for per page request."""
        self._ensure_mode()
        return self._page_size

    @property
    def pacer(self) -> Pacer:
        """The request pacer shared by every client of this customer key."""
        self._ensure_mode()
        return self._pacer

    @property
    def rate_interval(self) -> float:
        """Seconds between request starts now (0: not throttled)."""
        return self.pacer.interval

    def error_context(self) -> ErrorContext:
        """What error hints may mention about this client's configuration."""
        return ErrorContext(
            mode=str(self._mode or self.profile.mode),
            auth_scheme=self.profile.auth_scheme,
            tier=str(self.profile.tier),
            rate_interval=self._pacer.base_interval if self._mode else None,
            page_size=self._page_size or None,
            base_url=self._base_url,
        )

    # -- requests --------------------------------------------------------------------------
    def get_json(self, path: str, params: Params | None = None) -> Any:
        """``GET base_url + path`` with pacing and retries; the decoded JSON body.

        JSON numbers with a fraction are decoded as ``Decimal``.
        """
        return self.request_json("GET", path, params=params)

    def get_parsed(self, path: str, params: Params | None, parse: Callable[[bytes], T]) -> T:
        """``GET base_url + path`` with pacing and retries; ``parse(body)`` of the answer.

        ``parse`` runs inside the retry loop: a :class:`ResponseFormatError` it raises with
        ``truncated`` set (a body cut short) is retried like a dropped connection.
        """
        return self._with_retries("GET", path, params, None, parse)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send a request with pacing and retries; the decoded JSON body."""

        def decode(body: bytes) -> Any:
            return _decode_json(body, method, path)

        return self._with_retries(method, path, params, json_body, decode)

    def _with_retries(
        self,
        method: str,
        path: str,
        params: Params | None,
        json_body: Any,
        parse: Callable[[bytes], T],
    ) -> T:
        self._ensure_mode()
        attempts = 0
        try:
            retrying = self.retry_policy.retrying(
                on_retry=self._before_retry, ready_in=self._pacer.ready_in
            )
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return parse(self._send_once(method, path, params, json_body))
        except OpenDentalError as exc:
            exc.attempts = attempts
            raise
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _before_retry(self, notice: RetryNotice) -> None:
        """Count and log a retry, saying the real wait (backoff or pacer, the longer)."""
        self.stats.add(retries=1)
        log.info("%s", notice.describe())

    def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace: the moment the request starts to leave is its real departure."""
        if event.endswith("send_request_headers.started"):
            self._pacer.sent()

    def _send_once(self, method: str, path: str, params: Params | None, json_body: Any) -> bytes:
        """One paced request; the body of a 2xx answer, else the error for its status."""
        self.stats.add(requests=1)
        # The request is built first: acquire() notes the departure that spaces the next
        # request, so nothing but the sending may come between the two.
        request = self._http.build_request(
            method,
            self._base_url + path,
            params=params,
            json=json_body,
            extensions={"trace": self._trace},
        )
        waited = self._pacer.acquire()
        started = time.monotonic()
        try:
            response = self._http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self.stats.add(transport_errors=1)
            mode = str(self._mode)
            error = ConnectionFailedError.for_mode(mode, _describe(exc), method=method, path=path)
            error.refused = isinstance(exc, httpx.ConnectError) and _is_refused(exc)
            raise error from None
        except httpx.TimeoutException as exc:
            self.stats.add(transport_errors=1)
            raise RequestTimeoutError(
                None,
                "",
                f"No answer within {self.profile.timeout:g} s. " + RequestTimeoutError.default_hint,
                detail=_describe(exc),
                method=method,
                path=path,
            ) from None
        except httpx.TransportError as exc:
            self.stats.add(transport_errors=1)
            raise ConnectionFailedError(
                None,
                "",
                ConnectionFailedError.DROPPED_HINT,
                detail=_describe(exc),
                method=method,
                path=path,
            ) from None
        finally:
            self.stats.add(paced_seconds=waited)
        self._pacer.observe(time.monotonic() - started, sent_at=started)
        status = response.status_code
        self.stats.add_status(status)
        log.debug(
            "%s %s%s -> %d in %.0f ms",
            method,
            path,
            _param_names(params),
            status,
            (time.monotonic() - started) * 1000,
        )
        if 200 <= status < 300:
            return response.content
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            self.stats.add(throttled=1)
            capped = None
            if retry_after is not None:
                capped = min(retry_after, self.retry_policy.max_retry_after)
            self._pacer.throttled(capped)
        raise error_for_status(
            status,
            clean_server_message(response.content, redact=self._redact),
            self.error_context(),
            retry_after=retry_after,
            method=method,
            path=path,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = self._mode or self.profile.mode
        url = self._base_url or "(auto)"
        return f"Client(practice={self.profile.name!r}, mode={str(mode)!r}, base_url={url!r})"
