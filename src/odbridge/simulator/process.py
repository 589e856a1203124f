"""The simulator in a process of its own, for tests and benchmarks whose figures depend on it.

A throttled simulator in the caller's process shares its interpreter lock: on a busy
machine the throttle's clock then reads late (or the previous request's arrival was noted
late) and a correctly paced client sees 429s it did not earn. A child process has its own
interpreter, so the throttle measures what the network delivers.

The parent binds the port (nobody can take it in between), hands the socket to
``python -m odbridge.simulator`` with the settings on standard input, and waits until
``/_simulator/health`` answers.
"""

from __future__ import annotations

import json
import socket
import subprocess  # nosec B404
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Any

import httpx
from pydantic import SecretStr

from odbridge.simulator.handle import SimulatorHandle
from odbridge.simulator.settings import SimulatorSettings


def settings_json(settings: SimulatorSettings) -> str:
    """``settings`` as JSON with the keys in clear (for the child; never logged)."""

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {name: plain(item) for name, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return json.dumps(plain(settings.model_dump()))


class SimulatorProcess(SimulatorHandle):
    """A simulator serving ``settings`` in a child process; a context manager.

    >>> with SimulatorProcess(SimulatorSettings(patients=100, rate_interval=0.1)) as sim:
    ...     sim.stats()["throttled"]
    """

    def __init__(self, settings: SimulatorSettings | None = None, timeout: float = 120.0) -> None:
        self.settings = settings or SimulatorSettings()
        self.timeout = timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id (None before :meth:`start`)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> SimulatorProcess:
        """Bind a port, start the child on it and wait until it answers."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.settings.host, self.settings.port))
            self.port = sock.getsockname()[1]
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
            self._process = subprocess.Popen(  # noqa: S603  # nosec B603
                [sys.executable, "-m", "odbridge.simulator", "--fd", str(sock.fileno())],
                stdin=subprocess.PIPE,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
            )
            if self._process.stdin is not None:  # always (stdin=PIPE)
                self._process.stdin.write(settings_json(self.settings).encode())
                self._process.stdin.close()
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=5) as client:
            while True:
                try:
                    client.get(f"{self.root_url}/_simulator/health").raise_for_status()
                    return
                except httpx.HTTPError:
                    pass
                if self._process is not None and self._process.poll() is not None:
                    output = self.output()
                    self.stop()
                    raise RuntimeError(f"the simulator exited at start:\n{output}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the simulator did not answer in {self.timeout:g} s")
                time.sleep(0.05)

    def output(self) -> str:
        """What the child printed so far (its log; the last 4,000 characters)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        """Ask the child to stop (SIGTERM) and wait for it; kill it if it hangs."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
