"""Shared by the benchmarks: a simulator in its own process, so its CPU is not counted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))
DEV, CUST = "bench-dev", "bench-cust"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SimulatorProcess:
    """``odbridge simulate`` in a child process; a context manager."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SimulatorProcess:
        env = {**os.environ, "ODBRIDGE_SIM_DEVELOPER_KEY": DEV, "ODBRIDGE_SIM_CUSTOMER_KEY": CUST}
        self.process = subprocess.Popen(
            [ODBRIDGE, "simulate", "--port", str(self.port), *self.args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{self.root_url}/_simulator/health").raise_for_status()
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.2)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def stats(self) -> dict[str, object]:
        result: dict[str, object] = httpx.get(f"{self.root_url}/_simulator/stats").json()
        return result

    def change(self, count: int) -> None:
        httpx.post(f"{self.root_url}/_simulator/changes", json={"count": count}).raise_for_status()
