"""What a simulator run is configured with: keys, tier, mode, paging, throttling and faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from odbridge.simulator.faults import FaultSettings

Tier = Literal["read-all", "full", "enterprise"]
Mode = Literal["remote", "local", "service"]
ThrottleMode = Literal["reject", "delay"]

TIER_INTERVALS: dict[str, float] = {"read-all": 5.0, "full": 1.0, "enterprise": 0.5}
"""Seconds between request starts per customer key, by permission tier (Open Dental's docs)."""

REMOTE_PAGE_CAP = 100
LOCAL_PAGE_CAP = 1000


class SimulatorSettings(BaseModel):
    """Settings of one simulated practice.

    ``rate_interval`` and ``page_limit`` default from the tier and mode: remote is throttled
    by the tier (read-all 5 s, full 1 s, enterprise 0.5 s) and capped at 100 rows a page
    (1000 for enterprise); local and service are unthrottled with 1000 rows a page. A
    ``page_limit`` of 1000 or more without the enterprise tier means the local API.
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

    @model_validator(mode="after")
    def _resolve_mode(self) -> SimulatorSettings:
        if self.mode is None:
            local_sized = self.page_limit is not None and self.page_limit >= LOCAL_PAGE_CAP
            self.mode = "local" if local_sized and self.tier != "enterprise" else "remote"
        if self.page_limit is None:
            remote_cap = LOCAL_PAGE_CAP if self.tier == "enterprise" else REMOTE_PAGE_CAP
            self.page_limit = remote_cap if self.mode == "remote" else LOCAL_PAGE_CAP
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
