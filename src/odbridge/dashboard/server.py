"""Serve the dashboard with uvicorn: in the foreground (``serve``) or in a background thread
(``DashboardServer``, for tests, benchmarks and the demo).

uvicorn's access log is off: its lines carry query strings, and a query string can hold a
search for a patient's name. The dashboard logs method, route and status instead.
``X-Forwarded-For`` and friends are ignored unless the operator names the proxy that sets
them (``forwarded_allow_ips``): otherwise anyone could pick the address the login throttle
counts.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs
import uvicorn
from sqlalchemy import Engine
from starlette.applications import Starlette

from odbridge.dashboard.app import DEFAULT_IDLE_TIMEOUT, create_app
from odbridge.dashboard.security import is_loopback, log
from odbridge.errors import OdbridgeError
from odbridge.private_files import check_secret_file
from odbridge.serving import BackgroundServer

NOT_LOOPBACK_REFUSAL = (
    "The dashboard would listen on {host}, beyond this machine, without TLS: patient data and "
    "passwords would cross the network in clear text. Use --ssl-certfile/--ssl-keyfile, or "
    "serve behind a TLS reverse proxy (--behind-tls-proxy), or listen on 127.0.0.1; "
    "--allow-plaintext overrides this on a network you trust."
)


class DashboardConfigError(OdbridgeError, ValueError):
    """The dashboard cannot be served as asked; the message says why and what to do."""


def _config(
    app: Any,
    host: str,
    port: int,
    log_level: str,
    *,
    forwarded_allow_ips: str | None = None,
    **extra: Any,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # its lines carry query strings: search terms are patient data
        server_header=False,
        http="h11",
        lifespan="on",
        timeout_graceful_shutdown=2,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or "",
        **extra,
    )


def default_secret_path() -> Path:
    """``<user data dir>/odbridge/dashboard-secret.key``."""
    return Path(platformdirs.user_data_dir("odbridge", appauthor=False)) / "dashboard-secret.key"


def load_secret_key(path: Path | None = None) -> bytes:
    """The key that signs session cookies, kept in a private file (0600) so that sessions
    survive a restart; made (32 random bytes) on first use. Delete the file to end every
    session. A file others can read is made private (with a warning); one that belongs to
    another user or lies in a folder others can change raises
    :class:`~odbridge.private_files.NotPrivateError`: whoever can write it can forge
    sessions."""
    path = path or default_secret_path()
    for sentence in check_secret_file(path, "the dashboard's session key"):
        log.warning("%s", sentence)
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    os.chmod(path, 0o600)
    return key


def serve(engine: Engine, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve the dashboard until interrupted (options: see :func:`server_config`)."""
    config = server_config(engine, host, port, **options)
    if not logging.getLogger().handlers and not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    uvicorn.Server(config).run()


def server_config(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    secret_key: bytes | None = None,
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    sync_every: timedelta | None = None,
    allowed_hosts: Sequence[str] = (),
    forwarded_allow_ips: str | None = None,
    behind_tls_proxy: bool = False,
    allow_plaintext: bool = False,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration (app included) :func:`serve` runs.

    TLS (``ssl_certfile`` + ``ssl_keyfile``) or ``behind_tls_proxy`` makes the session cookie
    Secure and sends HSTS. Listening beyond loopback without either raises
    :class:`DashboardConfigError` unless ``allow_plaintext``. ``allowed_hosts``: the names
    (besides loopback) browsers may use for it; ``forwarded_allow_ips``: the proxy whose
    ``X-Forwarded-For`` is believed (comma-separated addresses).
    """
    check_listen(host, tls=ssl_certfile is not None or behind_tls_proxy, allow=allow_plaintext)
    app = create_app(
        engine,
        secret_key=secret_key,
        idle_timeout=idle_timeout,
        secure_cookies=ssl_certfile is not None or behind_tls_proxy,
        sync_every=sync_every,
        allowed_hosts=[*allowed_hosts, host],
    )
    extra: dict[str, Any] = {}
    if ssl_certfile:
        extra.update(ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    return _config(app, host, port, log_level, forwarded_allow_ips=forwarded_allow_ips, **extra)


def check_listen(host: str, *, tls: bool, allow: bool = False) -> None:
    """DashboardConfigError when serving beyond loopback without TLS (unless ``allow``)."""
    if tls or allow or is_loopback(host):
        return
    raise DashboardConfigError(NOT_LOOPBACK_REFUSAL.format(host=host))


class DashboardServer:
    """The dashboard on 127.0.0.1 (``port``; 0: a free one) in a background thread; a
    context manager; :meth:`start` returns once it listens.

    >>> with DashboardServer(create_app(engine)) as server:
    ...     server.url  # 'http://127.0.0.1:PORT'
    """

    def __init__(
        self,
        app: Starlette,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        forwarded_allow_ips: str | None = None,
    ):
        self.app = app
        self.host = host
        self.log_level = log_level
        self._runner = BackgroundServer(
            lambda port: _config(
                self.app,
                self.host,
                port,
                self.log_level,
                forwarded_allow_ips=forwarded_allow_ips,
            ),
            host=host,
            port=port,
            name="dashboard",
        )

    @property
    def port(self) -> int:
        return self._runner.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> DashboardServer:
        self._runner.start()
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
