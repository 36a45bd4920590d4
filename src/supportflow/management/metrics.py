"""Rolling metrics in hourly buckets: what each event adds, folding a poll's batch into the
buckets the workflow keeps (8 days), and the figures people read (totals over a window and
the rates derived from them).

An hour is its index since the Unix epoch (UTC): ``hour_of(at)``. A bucket holds raw
counters only (counts and sums); rates and means are derived when read, so buckets add up
across hours and days. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from supportflow.management.events import DataValue

HOUR_SECONDS = 3600
# Buckets the workflow keeps: the guard's 7-day baseline, plus the day being watched.
KEEP_HOURS = 8 * 24

# Every raw counter a bucket may hold, in the order people read them.
COUNTERS: tuple[str, ...] = (
    "cases_closed",
    "cases_resolved",
    "cases_escalated",
    "cases_abandoned",
    "cases_by_person",
    "cases_resolved_alone",
    "handoffs",
    "sla_breaches",
    "refunds",
    "refund_amount",
    "store_errors",
    "sales_touches",
    "conversions",
    "conversion_amount",
    "saves",
    "csat_count",
    "csat_sum",
    "approvals",
    "takeovers",
    # The watchdog: workflows found running past their expected life (each counted once).
    "stuck",
)
# Derived when read, from the counters above.
DERIVED: tuple[str, ...] = ("automation_rate", "resolved_alone_rate", "csat_mean")
# Sums of money: rounded to cents as they add up, so floats do not drift.
MONEY = frozenset({"refund_amount", "conversion_amount"})

Buckets = dict[int, dict[str, float]]


def hour_of(at: datetime) -> int:
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return int(aware.timestamp() // HOUR_SECONDS)


def hour_start(hour: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)


@dataclass(frozen=True)
class CountedEvent:
    """What a bucket needs of one event."""

    kind: str
    at: datetime
    amount: Decimal | float | None = None
    data: Mapping[str, DataValue] = field(default_factory=dict)


def contributions(e: CountedEvent) -> dict[str, float]:
    """The counters one event adds to (an unknown kind adds to none)."""
    amount = float(e.amount) if e.amount is not None else 0.0
    d = e.data
    match e.kind:
        case "case_closed":
            by_person = d.get("by_person") is True
            outcome = d.get("outcome")
            out = {"cases_closed": 1.0}
            if outcome in ("resolved", "escalated", "abandoned"):
                out[f"cases_{outcome}"] = 1.0
            if by_person:
                out["cases_by_person"] = 1.0
            elif outcome == "resolved":
                out["cases_resolved_alone"] = 1.0
            return out
        case "handoff":
            return {"handoffs": 1.0}
        case "sla_breach":
            return {"sla_breaches": 1.0}
        case "refund":
            return {"refunds": 1.0, "refund_amount": amount}
        case "store_error":
            return {"store_errors": 1.0}
        case "sales_touch":
            return {"sales_touches": 1.0}
        case "conversion":
            return {"conversions": 1.0, "conversion_amount": amount}
        case "save":
            return {"saves": 1.0}
        case "csat":
            rating = d.get("rating")
            if isinstance(rating, int) and not isinstance(rating, bool):
                return {"csat_count": 1.0, "csat_sum": float(rating)}
            return {}
        case "approval":
            return {"approvals": 1.0}
        case "takeover":
            return {"takeovers": 1.0}
        case "stuck_workflow":
            return {"stuck": 1.0}
        case _:
            return {}


def _add(into: dict[str, float], name: str, value: float) -> None:
    total = into.get(name, 0.0) + value
    into[name] = round(total, 2) if name in MONEY else total


def summarize(events: Iterable[CountedEvent]) -> Buckets:
    """Counters per hour for a batch of events (only the counters they touch)."""
    out: Buckets = {}
    for e in events:
        adds = contributions(e)
        if not adds:
            continue
        bucket = out.setdefault(hour_of(e.at), {})
        for name, value in adds.items():
            _add(bucket, name, value)
    return out


def fold(
    kept: Buckets, batch: Buckets, now_hour: int, keep: int = KEEP_HOURS
) -> tuple[Buckets, list[int]]:
    """``kept`` with ``batch`` added, hours older than ``keep`` before ``now_hour`` dropped;
    and the hours the batch changed that are still kept (to write), oldest first."""
    oldest = now_hour - keep + 1
    merged: Buckets = {h: dict(v) for h, v in kept.items() if h >= oldest}
    touched: list[int] = []
    for hour in sorted(batch):
        if hour < oldest:
            continue  # too old to keep: it would not change any figure the workflow serves
        bucket = merged.setdefault(hour, {})
        for name, value in batch[hour].items():
            _add(bucket, name, value)
        touched.append(hour)
    return merged, touched


def totals(buckets: Mapping[int, Mapping[str, float]], first: int, last: int) -> dict[str, float]:
    """Every counter summed over hours ``first``..``last`` (inclusive); zero when absent."""
    out = dict.fromkeys(COUNTERS, 0.0)
    for hour, bucket in buckets.items():
        if first <= hour <= last:
            for name, value in bucket.items():
                if name in out:
                    _add(out, name, value)
    return out


def derived(t: Mapping[str, float]) -> dict[str, float | None]:
    """Rates and means from counters; None where there is nothing to divide by."""
    closed = t.get("cases_closed", 0.0)
    rated = t.get("csat_count", 0.0)
    return {
        # Cases closed without a person (the agent alone, whatever the outcome) / all closed.
        "automation_rate": (closed - t.get("cases_by_person", 0.0)) / closed if closed else None,
        # Cases the agent resolved alone / all closed.
        "resolved_alone_rate": t.get("cases_resolved_alone", 0.0) / closed if closed else None,
        "csat_mean": t.get("csat_sum", 0.0) / rated if rated else None,
    }


def series(
    buckets: Mapping[int, Mapping[str, float]], name: str, first: int, last: int
) -> list[float]:
    """One counter hour by hour, zeros included (what a baseline or a chart needs)."""
    return [float(buckets.get(h, {}).get(name, 0.0)) for h in range(first, last + 1)]
