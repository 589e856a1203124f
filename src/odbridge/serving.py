"""An ASGI app under uvicorn on a free loopback port, in a background thread.

The simulator and the dashboard both need this (tests, benchmarks, the demo); it lives here
once. ``config_for(port)`` builds the uvicorn config for the port that was bound.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn


class BackgroundServer:
    """Bind ``host:port`` (0 = any free port), serve in a thread, wait until it answers."""

    def __init__(
        self,
        config_for: Callable[[int], uvicorn.Config],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "server",
    ) -> None:
        self._config_for = config_for
        self.host = host
        self.port = port
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Bind, start serving and wait until uvicorn reports it has started."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(self._config_for(self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name=self.name
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
