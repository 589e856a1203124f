"""Run the simulator under uvicorn: in the foreground (the CLI) or in a background thread.

``SimulatorServer`` is what tests, benchmarks and the demo use: a real HTTP server on a
loopback port, with helpers to read its statistics and switch its faults.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from odbridge.serving import BackgroundServer
from odbridge.simulator.app import create_app
from odbridge.simulator.generate import generate_practice
from odbridge.simulator.handle import SimulatorHandle
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


def serve_forever(
    settings: SimulatorSettings, log_level: str = "info", sock: socket.socket | None = None
) -> None:
    """Serve in the foreground until interrupted (``odbridge simulate``), on ``sock`` when
    given (a socket bound by the parent process: ``python -m odbridge.simulator``)."""
    app = create_app(settings)
    uvicorn.Server(_uvicorn_config(app, settings, log_level)).run(
        sockets=[sock] if sock is not None else None
    )


class SimulatorServer(SimulatorHandle):
    """A simulator on a free 127.0.0.1 port in a background thread; a context manager.

    Its URLs and control helpers (``stats``, ``change``, ``event``, ...) are
    :class:`~odbridge.simulator.handle.SimulatorHandle`'s. Timing-sensitive work (a
    throttled simulator whose clock must not share a busy process) wants
    :class:`~odbridge.simulator.process.SimulatorProcess` instead.

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
