"""A running simulator seen from outside: its URLs and its ``/_simulator`` control endpoints.

Shared by :class:`~odbridge.simulator.server.SimulatorServer` (a thread of this process) and
:class:`~odbridge.simulator.process.SimulatorProcess` (a process of its own), so tests and
benchmarks talk to either the same way.
"""

from __future__ import annotations

from typing import Any

import httpx

from odbridge.simulator.settings import SimulatorSettings


class SimulatorHandle:
    """URLs and control helpers of a simulator serving ``settings`` on ``port``."""

    settings: SimulatorSettings
    port: int = 0

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.settings.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base URL, as a client is configured with it."""
        return f"{self.root_url}/api/v1"

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
