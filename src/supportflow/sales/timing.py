"""When a sales message may go out: not inside the tenant's quiet hours. Pure (the clock is
passed in); reads the tz database, so it runs in activities, never in workflow code."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from supportflow.policy.sales import QuietHours


def in_quiet_hours(quiet: QuietHours, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(quiet.timezone)).time()
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # the span crosses midnight


def next_allowed(quiet: QuietHours | None, at: datetime) -> datetime:
    """``at`` if a message may go out then, else the end of the quiet span it falls in
    (aware, UTC)."""
    if quiet is None or not in_quiet_hours(quiet, at):
        return at
    zone = ZoneInfo(quiet.timezone)
    local = at.astimezone(zone)
    end = datetime.combine(local.date(), quiet.end, zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, zone)
    return end.astimezone(at.tzinfo)
