"""A tenant's management agent settings: how often it looks, and when its guard trips.

Stored per tenant (``management_settings``), defaults when absent; validated when saved, so a
misspelt threshold is refused rather than silently ignored. The agent reads them at every
poll: a change applies from the next one.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


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
    # The daily report mailed to the tenant's admins (a Temporal Schedule, 07:00 UTC).
    digest_enabled: bool = True
    refund_spike: SpikeRule = SpikeRule()
    store_error_burst: SpikeRule = SpikeRule(min_count=5, min_amount=0.0)

    @model_validator(mode="after")
    def _bounds(self) -> ManagementConfig:
        if not timedelta(seconds=10) <= self.poll_interval <= timedelta(hours=1):
            raise ValueError("poll_interval must be between 10 seconds and 1 hour")
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
