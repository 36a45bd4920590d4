"""When a person is at work: a tenant's support hours, and when the next person can answer.

Pure (the clock is passed in). Time zones come from the system's tz database (``zoneinfo``),
so this runs in activities and in the API, not inside workflow code.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")


def zone_name(value: str) -> str:
    """``value`` if it is shaped like an IANA zone name, else ValueError. Only the shape: the
    policy models are also decoded inside workflows, where reading the tz database is I/O;
    ``check_zone`` runs where a policy is saved."""
    if not _ZONE_NAME.fullmatch(value):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)")
    return value


def check_zone(name: str) -> None:
    """Raise ValueError unless the time zone is in the system's tz database."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from err


WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OpenHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> OpenHours:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens (hours past midnight are not supported)")
        return self


class SupportHours(BaseModel):
    """When the tenant's people answer, in their own time zone. A day not listed is closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    days: dict[Weekday, OpenHours] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone_name(cls, value: str) -> str:
        return zone_name(value)

    def check_zone(self) -> None:
        """Raise ValueError unless the time zone is in the system's tz database."""
        check_zone(self.timezone)

    @model_validator(mode="after")
    def _some_day(self) -> SupportHours:
        if not self.days:
            raise ValueError("support hours need at least one open day")
        return self


class Availability(BaseModel):
    """What a customer handed to a person is told about when they will answer."""

    # "open": people are at work now; "closed": the next opening is `opens_at`; "unknown": the
    # tenant set no hours (we promise no time).
    status: Literal["open", "closed", "unknown"]
    opens_at: datetime | None = None  # aware, in the tenant's time zone
    timezone: str | None = None


def availability(hours: SupportHours | None, now: datetime) -> Availability:
    """Whether people are at work at ``now`` (aware), and if not, when they next are."""
    if hours is None:
        return Availability(status="unknown")
    zone = ZoneInfo(hours.timezone)
    local = now.astimezone(zone)
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        open_hours = hours.days.get(WEEKDAYS[day.weekday()])
        if open_hours is None:
            continue
        opens = datetime.combine(day, open_hours.opens, zone)
        closes = datetime.combine(day, open_hours.closes, zone)
        if offset == 0 and opens <= local < closes:
            return Availability(status="open", timezone=hours.timezone)
        if local < opens:
            return Availability(status="closed", opens_at=opens, timezone=hours.timezone)
    raise AssertionError("support hours have an open day, so a week always holds an opening")
