"""A tenant's management agent settings: how often it looks, and when its guard trips.

Stored per tenant (``management_settings``), defaults when absent; validated when saved, so a
misspelt threshold is refused rather than silently ignored. The agent reads them at every
poll: a change applies from the next one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# --- routing and watchdog (issue 14 item 4; management/routing.py, watchdog.py) --------------
# least_loaded: the operator holding or assigned the fewest lines (ties: the one least
# recently assigned); round_robin: the one least recently assigned; off: nobody is assigned.
RoutingMode = Literal["least_loaded", "round_robin", "off"]
# --- end routing and watchdog ------------------------------------------------------------------


class SpikeRule(BaseModel):
    """Trips when the last hour's value is above the tenant's own baseline (the hourly values
    of the ``baseline_days`` before it: mean + ``sigmas`` standard deviations) AND at least
    the floor. The floor keeps a quiet or new shop (baseline near zero) from tripping on two
    refunds; the baseline keeps a busy shop from tripping on an ordinary hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sigmas: float = Field(default=4.0, ge=1.0, le=20.0)
    # The count in the last hour must be at least this many.
    min_count: int = Field(default=5, ge=1, le=100_000)
    # Refunds only: the amount refunded in the last hour must be at least this much (money).
    min_amount: float = Field(default=500.0, ge=0.0, le=1e10)
    baseline_days: int = Field(default=7, ge=1, le=7)


class ManagementConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1, le=1)
    # How often the agent reads what is new (each poll is a timer and one workflow task).
    poll_interval: timedelta = timedelta(minutes=5)
    # The guard acts on its own only when on; off, the figures are still kept.
    guard_enabled: bool = True
    # The daily report mailed to the tenant's admins (a Temporal Schedule, 07:00 tenant time).
    digest_enabled: bool = True
    refund_spike: SpikeRule = SpikeRule()
    store_error_burst: SpikeRule = SpikeRule(min_count=5, min_amount=0.0)
    # --- routing and watchdog (issue 14 item 4) -------------------------------------------
    # How handed-over conversations are given to operators (docs/management.md, Routing).
    routing: RoutingMode = "least_loaded"
    # An operator counts as signed in when seen in the console this recently.
    routing_presence: timedelta = timedelta(minutes=30)
    # An assigned line nobody claimed goes to another operator once this share of the
    # policy's sla_first_response has passed since it began waiting.
    routing_sla_risk: float = Field(default=0.75, ge=0.1, le=1.0)
    # The watchdog: stuck and approval lines nobody holds for this long go to supervisors;
    # sales workflows running past their expected life are looked for this often.
    watchdog_enabled: bool = True
    watchdog_inbox_after: timedelta = timedelta(hours=2)
    watchdog_workflows_every: timedelta = timedelta(hours=3)
    # --- end routing and watchdog ---------------------------------------------------------

    @model_validator(mode="after")
    def _bounds(self) -> ManagementConfig:
        if not timedelta(seconds=10) <= self.poll_interval <= timedelta(hours=1):
            raise ValueError("poll_interval must be between 10 seconds and 1 hour")
        # --- routing and watchdog ---
        if not timedelta(minutes=1) <= self.routing_presence <= timedelta(hours=24):
            raise ValueError("routing_presence must be between 1 minute and 24 hours")
        if not timedelta(minutes=5) <= self.watchdog_inbox_after <= timedelta(days=7):
            raise ValueError("watchdog_inbox_after must be between 5 minutes and 7 days")
        if not timedelta(minutes=10) <= self.watchdog_workflows_every <= timedelta(days=1):
            raise ValueError("watchdog_workflows_every must be between 10 minutes and 1 day")
        return self


DEFAULT_CONFIG = ManagementConfig()


class ConfigError(ValueError):
    """The settings document breaks a rule; the message says where. Nothing was saved."""


def parse_config(doc: object) -> ManagementConfig:
    if doc is None:
        return DEFAULT_CONFIG
    if not isinstance(doc, dict):
        raise ConfigError("the management settings are a JSON object")
    try:
        return ManagementConfig.model_validate(doc)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"invalid management settings: {problems}") from err
