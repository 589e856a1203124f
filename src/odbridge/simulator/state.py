"""What a running simulator holds: its settings, practices, fault source, throttle and stats."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from odbridge.simulator.faults import FaultInjector
from odbridge.simulator.generate import FrontDesk
from odbridge.simulator.practice import Practice
from odbridge.simulator.settings import SimulatorSettings
from odbridge.simulator.throttle import Throttle

OFFICE_SCOPE_KEY = "odbridge.office"
"""Where the gatekeeper leaves the authenticated request's office in the ASGI scope."""


@dataclass
class Stats:
    """What the simulator saw; served at ``GET /_simulator/stats``."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    throttled: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    changes: int = 0
    deletions: int = 0
    first_request_at: float | None = None
    """When the first API request since the last reset arrived (epoch seconds)."""
    last_answer_at: float | None = None
    """When the last API answer was sent (epoch seconds): with the above, a client's span
    as the server saw it, to the microsecond."""

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "throttled": self.throttled,
            "faults": dict(self.faults),
            "by_endpoint": dict(self.by_endpoint),
            "changes": self.changes,
            "deletions": self.deletions,
            "first_request_at": self.first_request_at,
            "last_answer_at": self.last_answer_at,
        }


@dataclass
class ScheduledDeletion:
    """Patients to delete once the office has answered ``fire_at`` Simple requests.

    ``pat_nums`` names them; when empty, the ``count`` live patients with the lowest
    PatNums are deleted (the ones a pass has already read, so later pages shift).
    """

    fire_at: int
    count: int
    pat_nums: list[int]
    deleted: list[int] = field(default_factory=list)
    done: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "after_request": self.fire_at,
            "count": self.count,
            "PatNums": self.pat_nums,
            "deleted": self.deleted,
            "done": self.done,
        }


class Office:
    """One simulated practice as served: its customer key, data, front desk and schedule.

    The practice is made by ``make`` when first used, so a group of hundreds of practices
    starts at once and only the practices asked for are generated.
    """

    def __init__(
        self, number: int, customer_key: str, make: Callable[[], tuple[Practice, FrontDesk]]
    ) -> None:
        self.number = number
        self.customer_key = customer_key
        self._make = make
        self._made: tuple[Practice, FrontDesk] | None = None
        self._lock = threading.Lock()
        self.simple_requests = 0
        self.scheduled: list[ScheduledDeletion] = []

    def _ready(self) -> tuple[Practice, FrontDesk]:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make()
        return self._made

    @property
    def made(self) -> bool:
        """Whether the practice has been generated yet."""
        return self._made is not None

    @property
    def practice(self) -> Practice:
        """The practice's data (generated on first use)."""
        return self._ready()[0]

    @property
    def front_desk(self) -> FrontDesk:
        """The practice's front desk (the source of random changes)."""
        return self._ready()[1]

    def after_simple_request(self) -> None:
        """Count one answered Simple request and run the deletions now due."""
        self.simple_requests += 1
        self.run_due()

    def run_due(self) -> None:
        """Run the scheduled deletions that are due."""
        for item in self.scheduled:
            if item.done or item.fire_at > self.simple_requests:
                continue
            targets = (
                item.pat_nums
                or [
                    n for n, row in self.practice.patients.items() if row["PatStatus"] != "Deleted"
                ][: item.count]
            )
            for pat_num in targets:
                if pat_num in self.practice.patients:
                    self.practice.delete(pat_num)
                    item.deleted.append(pat_num)
            item.done = True


@dataclass
class SimulatorState:
    """Everything a running simulator holds; ``app.state.sim``."""

    settings: SimulatorSettings
    offices: list[Office]
    faults: FaultInjector
    throttle: Throttle
    stats: Stats = field(default_factory=Stats)
    disabled_keys: set[str] = field(default_factory=set)

    @property
    def practice(self) -> Practice:
        """The first (with ``practices=1`` the only) practice."""
        return self.offices[0].practice

    def office_for_key(self, customer_key: str) -> Office | None:
        """The office a customer key belongs to, or None."""
        return next((o for o in self.offices if o.customer_key == customer_key), None)


def office_of(request: Request) -> Office:
    """The office of an authenticated ``/api/v1`` request (the first one otherwise)."""
    office: Office | None = request.scope.get(OFFICE_SCOPE_KEY)
    if office is None:
        state: SimulatorState = request.app.state.sim
        return state.offices[0]
    return office


def practice_of(request: Request) -> Practice:
    """The practice an ``/api/v1`` request reads and writes."""
    return office_of(request).practice


def settings_of(request: Request) -> SimulatorSettings:
    """The simulator's settings."""
    settings: SimulatorSettings = request.app.state.sim.settings
    return settings
