"""What a simulator run is configured with: keys, tier, mode, paging, throttling and faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from odbridge.simulator.faults import FaultSettings
from odbridge.simulator.release import CURRENT_OD_VERSION

Tier = Literal["read-all", "full", "enterprise"]
Mode = Literal["remote", "local", "service"]
ThrottleMode = Literal["reject", "delay"]

TIER_INTERVALS: dict[str, float] = {"read-all": 5.0, "full": 1.0, "enterprise": 0.5}
"""Seconds between request starts per customer key, by permission tier (Open Dental's docs)."""

REMOTE_PAGE_CAP = 100
LOCAL_PAGE_CAP = 1000
ENTERPRISE_LOCAL_PAGE_CAP = 10_000


class SimulatorSettings(BaseModel):
    """Settings of one simulated practice.

    ``rate_interval`` and ``page_limit`` default from the tier and mode: remote is throttled
    by the tier (read-all 5 s, full 1 s, enterprise 0.5 s) and capped at 100 rows a page
    (1000 for enterprise); local and service are unthrottled with 1000 rows a page (10,000
    for enterprise). A ``page_limit`` of 1000 or more without the enterprise tier means the
    local API. ``od_version`` is the Open Dental release simulated (behaviour that changed
    between releases follows it). ``practices`` > 1 serves that many practices, with the
    customer keys ``<customer_key>-1`` to ``-N`` and seeds ``seed`` to ``seed + N - 1``.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 0
    patients: int = Field(default=1000, ge=0)
    seed: int = 1
    developer_key: SecretStr = SecretStr("devkey-sim")
    customer_key: SecretStr = SecretStr("custkey-sim")
    disabled_customer_keys: list[SecretStr] = Field(default_factory=list)
    tier: Tier = "read-all"
    mode: Mode | None = None
    rate_interval: float | None = Field(default=None, ge=0)
    rate_grace: float = Field(default=0.01, ge=0)
    page_limit: int | None = Field(default=None, ge=1)
    throttle: ThrottleMode = "reject"
    accept_basic: bool = False
    faults: FaultSettings = Field(default_factory=FaultSettings)
    changes_per_minute: float = Field(default=0, ge=0)
    delete_share: float = Field(default=0.05, ge=0, le=1)
    od_version: str = Field(
        default=CURRENT_OD_VERSION, pattern=r"^\d{1,3}\.\d{1,3}(\.\d{1,5}){0,2}$"
    )
    practices: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _resolve_mode(self) -> SimulatorSettings:
        if self.mode is None:
            local_sized = self.page_limit is not None and self.page_limit >= LOCAL_PAGE_CAP
            self.mode = "local" if local_sized and self.tier != "enterprise" else "remote"
        if self.page_limit is None:
            enterprise = self.tier == "enterprise"
            remote_cap = LOCAL_PAGE_CAP if enterprise else REMOTE_PAGE_CAP
            local_cap = ENTERPRISE_LOCAL_PAGE_CAP if enterprise else LOCAL_PAGE_CAP
            self.page_limit = remote_cap if self.mode == "remote" else local_cap
        if self.rate_interval is None:
            self.rate_interval = TIER_INTERVALS[self.tier] if self.mode == "remote" else 0.0
        return self

    @property
    def interval(self) -> float:
        """Seconds between request starts per customer key (0: not throttled)."""
        return self.rate_interval or 0.0

    @property
    def page_cap(self) -> int:
        """Most rows one request returns."""
        return self.page_limit or REMOTE_PAGE_CAP

    @property
    def version(self) -> tuple[int, ...]:
        """``od_version`` as numbers, e.g. (25, 3)."""
        return tuple(int(part) for part in self.od_version.split("."))

    @property
    def simple_hides_deleted(self) -> bool:
        """Whether ``GET /patients/Simple`` leaves out Deleted patients (since 21.4)."""
        return self.version >= (21, 4)

    def customer_keys(self) -> list[str]:
        """The customer key of each practice: the key itself, or ``KEY-1`` … ``KEY-N``."""
        key = self.customer_key.get_secret_value()
        if self.practices == 1:
            return [key]
        return [f"{key}-{number}" for number in range(1, self.practices + 1)]
