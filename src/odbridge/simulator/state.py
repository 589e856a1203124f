"""What a running simulator holds: its settings, practice, fault source, throttle and stats."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from odbridge.simulator.data import Practice
from odbridge.simulator.faults import FaultInjector
from odbridge.simulator.settings import SimulatorSettings
from odbridge.simulator.throttle import Throttle


@dataclass
class Stats:
    """What the simulator saw; served at ``GET /_simulator/stats``."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    throttled: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    changes: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "throttled": self.throttled,
            "faults": dict(self.faults),
            "by_endpoint": dict(self.by_endpoint),
            "changes": self.changes,
        }


@dataclass
class SimulatorState:
    """Everything a running simulator holds; ``app.state.sim``."""

    settings: SimulatorSettings
    practice: Practice
    faults: FaultInjector
    throttle: Throttle
    stats: Stats = field(default_factory=Stats)
    disabled_keys: set[str] = field(default_factory=set)
