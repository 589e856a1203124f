"""Fault injection: each kind with a probability, drawn from a seeded random source.

A spec string such as ``"econnector=0.1,error500=0.05,reset=0.02,seed=7"`` or the JSON of
``PUT /_simulator/faults`` sets the probabilities. At most one fault hits a request; the
kinds are tried in a fixed order, so a seed replays the same sequence of faults.
"""

from __future__ import annotations

import random
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FaultKind = Literal[
    "econnector",
    "error500",
    "timeout",
    "slow",
    "reset",
    "truncated",
    "malformed",
    "network400",
    "notfound404",
]
FAULT_KINDS: tuple[FaultKind, ...] = (  # new kinds go last: a seed keeps replaying the same
    "econnector",
    "error500",
    "timeout",
    "slow",
    "reset",
    "truncated",
    "malformed",
    "network400",
    "notfound404",
)

_Probability = Field(default=0.0, ge=0.0, le=1.0)


class FaultSettings(BaseModel):
    """Probabilities per fault kind, and the knobs of the slow kinds.

    - ``econnector``: 400 with the eConnector message (1.0 = the eConnector is down).
    - ``error500``: 500 with a short message.
    - ``timeout``: held ``timeout_seconds`` (60 s on the real API), then 504.
    - ``slow``: held ``slow_seconds``, then answered normally.
    - ``reset``: the connection is closed after the status line, before the body.
    - ``truncated``: half the body is sent, then the connection is closed.
    - ``malformed``: 200 with a body that is not JSON.
    - ``network400``: 400 saying the dental office's network failed or timed out (a
      transient 400, as the documentation describes).
    - ``notfound404``: ``GET /patients/Simple`` answers 404 with an explanation (documented
      as a possible answer); other requests are served normally.
    """

    model_config = ConfigDict(extra="forbid")

    econnector: float = _Probability
    error500: float = _Probability
    timeout: float = _Probability
    slow: float = _Probability
    reset: float = _Probability
    truncated: float = _Probability
    malformed: float = _Probability
    network400: float = _Probability
    notfound404: float = _Probability
    slow_seconds: float = Field(default=2.0, ge=0)
    timeout_seconds: float = Field(default=60.0, ge=0)
    seed: int = 0

    def total(self) -> float:
        """The chance that a request meets some fault."""
        return float(sum(getattr(self, kind) for kind in FAULT_KINDS))


class FaultSpecError(ValueError):
    """A ``--faults`` spec that cannot be understood."""


def parse_fault_spec(spec: str) -> FaultSettings:
    """``"econnector=0.1,slow=0.2,slow_seconds=1,seed=3"`` → FaultSettings."""
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise FaultSpecError(f"fault '{part}' needs a value, e.g. {part}=0.1")
        values[name.strip().replace("-", "_")] = value.strip()
    known = (*FAULT_KINDS, "slow_seconds", "timeout_seconds", "seed")
    for name in values:
        if name not in known:
            raise FaultSpecError(f"unknown fault '{name}' (known: {', '.join(known)})")
    try:
        settings = FaultSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "faults"
        raise FaultSpecError(f"{where}: {first['msg']}") from None
    if settings.total() > 1.0:
        raise FaultSpecError("the fault probabilities add up to more than 1")
    return settings


class FaultInjector:
    """Draws the fault, if any, for each request. Safe to share between threads."""

    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self.settings = settings
        # Seeded on purpose: a seed replays the same faults (test data, not security).
        self._rng = random.Random(settings.seed)  # nosec B311

    def configure(self, settings: FaultSettings) -> None:
        """Replace the probabilities (and restart the random source from its seed)."""
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)  # nosec B311 # replayable faults

    def draw(self) -> FaultKind | None:
        """The fault for the next request, or None."""
        with self._lock:
            if self.settings.total() <= 0:
                return None
            roll = self._rng.random()
            edge = 0.0
            for kind in FAULT_KINDS:
                edge += getattr(self.settings, kind)
                if roll < edge:
                    return kind
            return None
