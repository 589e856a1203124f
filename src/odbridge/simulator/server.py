"""Run the simulator under uvicorn: in the foreground (the CLI) or in a background thread.

``SimulatorServer`` is what tests, benchmarks and the demo use: a real HTTP server on a
loopback port, with helpers to read its statistics and switch its faults.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from odbridge.serving import BackgroundServer
from odbridge.simulator.app import create_app
from odbridge.simulator.generate import generate_practice
from odbridge.simulator.practice import Practice
from odbridge.simulator.settings import SimulatorSettings


class _QuietDrops(logging.Filter):
    """Hide uvicorn's complaint about the responses a fault cut short on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


def _uvicorn_config(app: Any, settings: SimulatorSettings, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,  # its lines carry query values, which can be patient data
        http="h11",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


def serve_forever(settings: SimulatorSettings, log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (``odbridge simulate``)."""
    app = create_app(settings)
    uvicorn.Server(_uvicorn_config(app, settings, log_level)).run()


class SimulatorServer:
    """A simulator on a free 127.0.0.1 port in a background thread; a context manager.

    >>> with SimulatorServer(SimulatorSettings(patients=100)) as sim:
    ...     sim.base_url  # 'http://127.0.0.1:PORT/api/v1'
    """

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        practice: Practice | None = None,
        log_level: str = "warning",
        throttle_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self.practice = practice or generate_practice(self.settings.patients, self.settings.seed)
        self._app = create_app(self.settings, self.practice, throttle_clock)
        self._log_level = log_level
        self._runner: BackgroundServer | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.settings.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL, as a client is configured with it."""
        return f"{self.root_url}/api/v1"

    def start(self) -> SimulatorServer:
        """Bind, start serving and wait until it answers."""
        self._runner = BackgroundServer(
            lambda port: _uvicorn_config(
                self._app, self.settings.model_copy(update={"port": port}), self._log_level
            ),
            host=self.settings.host,
            port=self.settings.port,
            name="simulator",
        )
        self._runner.start(timeout=10)
        self.port = self._runner.port
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._runner is not None:
            self._runner.stop(timeout=10)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- control helpers (the /_simulator endpoints) ------------------------------------
    def _control(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method, f"{self.root_url}/_simulator/{path}", json=body, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """``GET /_simulator/stats``: requests, by_status, throttled, faults, ..."""
        result: dict[str, Any] = self._control("GET", "stats")
        return result

    def reset_stats(self) -> None:
        """Zero the counters."""
        self._control("POST", "stats/reset")

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Switch fault probabilities at run time, e.g. ``{"error500": 0.2, "seed": 3}``."""
        self._control("PUT", "faults", faults)

    def change(self, count: int) -> list[int]:
        """Update ``count`` random patients now; their PatNums."""
        result: list[int] = self._control("POST", "changes", {"count": count})["PatNums"]
        return result

    def event(self, name: str, body: dict[str, Any], practice: int = 1) -> Any:
        """Stage a practice event (docs/simulator.md): ``merge``, ``delete``, ``purge``,
        ``family-member``, ``delete-later``, ``bad-row``, ``rename-provider``,
        ``rename-clinic``, ``rename-definition``, ``rename-site``."""
        return self._control("POST", f"events/{name}?practice={practice}", body)

    def all_patients(self, practice: int = 1) -> list[dict[str, Any]]:
        """Every patient's full record (the source of truth), Deleted ones included."""
        result: list[dict[str, Any]] = self._control("GET", f"patients?practice={practice}")
        return result

    def live_patients(self, practice: int = 1) -> list[dict[str, Any]]:
        """The records ``GET /patients/Simple`` can return: every status but Deleted."""
        return [p for p in self.all_patients(practice) if p["PatStatus"] != "Deleted"]
