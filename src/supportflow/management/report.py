"""The figures people read (``GET /v1/metrics`` and the console's Metrics page): totals and a
time series from ``metric_buckets``, and sales conversions per experiment arm.

Buckets are hours (UTC); ``day`` sums 24 of them (UTC days). Rates are derived from the sums
of a point, never averaged across points. Conversions per arm are counts and a rate with its
95% Wilson interval (sales/stats.py): a touch converted when at least one order was
attributed to it; every touch assigned to an arm counts (intent to treat), whether its
message went out or was held back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import SalesConversion, SalesTouch
from supportflow.management.batch import GuardView
from supportflow.management.buckets_store import read_buckets
from supportflow.management.guards_store import list_guards
from supportflow.management.metrics import COUNTERS, derived, hour_of, hour_start, totals
from supportflow.sales.stats import wilson

Granularity = Literal["hour", "day"]
# The most points one answer holds: a month of hours, a year of days.
MAX_POINTS: dict[Granularity, int] = {"hour": 24 * 31, "day": 366}
_STEP: dict[Granularity, int] = {"hour": 1, "day": 24}


class RangeError(ValueError):
    """A range that cannot be answered (reversed, too long); the message says why."""


class Point(BaseModel):
    start: datetime
    counters: dict[str, float]
    derived: dict[str, float | None]


class ArmFigures(BaseModel):
    experiment_id: str
    arm: str
    touches: int
    # Touches with at least one attributed order, and the orders and their total. In a
    # retention experiment (outcome "save"): cancel requests whose order was kept.
    converted: int
    outcome: Literal["conversion", "save"] = "conversion"
    orders: int
    order_amount: float
    conversion_rate: float | None
    # 95% Wilson score interval of the conversion rate.
    interval: list[float]


class MetricsReport(BaseModel):
    tenant_id: str
    start: datetime
    end: datetime
    bucket: Granularity
    totals: dict[str, float]
    derived: dict[str, float | None]
    series: list[Point]
    experiments: list[ArmFigures]
    guards: list[GuardView]


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def bounds(
    start: datetime | None, end: datetime | None, bucket: Granularity, now: datetime
) -> tuple[int, int]:
    """The first and last hour index of the range, aligned to whole buckets. Defaults: the
    last 7 days (hours) or 30 days (days) to now."""
    step = _STEP[bucket]
    end_at = _utc(end) if end is not None else now
    last = hour_of(end_at - timedelta(microseconds=1))
    last = (last // step) * step + step - 1  # the end of the bucket ``end`` falls in
    if start is not None:
        first = (hour_of(_utc(start)) // step) * step
    else:
        first = last + 1 - step * (7 * 24 if bucket == "hour" else 30)
    if first > last:
        raise RangeError("from must be before to")
    points = (last - first + 1) // step
    if points > MAX_POINTS[bucket]:
        raise RangeError(
            f"at most {MAX_POINTS[bucket]} {bucket}s per request; narrow the range or use "
            f"bucket={'day' if bucket == 'hour' else 'day with a shorter range'}"
        )
    return first, last


def arms(
    sessions: sessionmaker[Session], tenant_id: str, start: datetime, end: datetime
) -> list[ArmFigures]:
    """Touches and conversions per experiment arm for touches made in [start, end)."""
    q = (
        select(
            SalesTouch.experiment_id,
            SalesTouch.arm,
            func.count(distinct(SalesTouch.touch_id)),
            func.count(distinct(SalesConversion.touch_id)),
            func.count(SalesConversion.order_id),
            func.coalesce(func.sum(SalesConversion.amount), 0),
            func.max(SalesTouch.kind),
            func.count(distinct(case((SalesTouch.status == "saved", SalesTouch.touch_id)))),
        )
        .select_from(SalesTouch)
        .outerjoin(
            SalesConversion,
            (SalesConversion.touch_id == SalesTouch.touch_id)
            & (SalesConversion.tenant_id == SalesTouch.tenant_id),
        )
        .where(
            SalesTouch.tenant_id == tenant_id,
            SalesTouch.experiment_id.is_not(None),
            SalesTouch.arm.is_not(None),
            SalesTouch.at >= start,
            SalesTouch.at < end,
        )
        .group_by(SalesTouch.experiment_id, SalesTouch.arm)
        .order_by(SalesTouch.experiment_id, SalesTouch.arm)
    )
    with sessions() as s:
        rows = s.execute(q).all()
    out: list[ArmFigures] = []
    for experiment_id, arm, touches, converted, orders, amount, kind, saved in rows:
        # A retention experiment's unit is a cancel request, and its success a kept order.
        retention = kind == "retention"
        if retention:
            converted = saved
        p = wilson(int(converted), int(touches))
        out.append(
            ArmFigures(
                experiment_id=str(experiment_id),
                arm=str(arm),
                touches=int(touches),
                converted=int(converted),
                outcome="save" if retention else "conversion",
                orders=int(orders),
                order_amount=round(float(amount or 0), 2),
                conversion_rate=p.estimate,
                interval=p.interval.as_list(),
            )
        )
    return out


def build_report(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    bucket: Granularity,
    now: datetime | None = None,
) -> MetricsReport:
    first, last = bounds(start, end, bucket, now or datetime.now(UTC))
    start_at, end_at = hour_start(first), hour_start(last + 1)
    hours = read_buckets(sessions, tenant_id, start_at, end_at)
    step = _STEP[bucket]
    points: list[Point] = []
    for p in range(first, last + 1, step):
        t = totals(hours, p, p + step - 1)
        points.append(Point(start=hour_start(p), counters=t, derived=derived(t)))
    whole = totals(hours, first, last)
    return MetricsReport(
        tenant_id=tenant_id,
        start=start_at,
        end=end_at,
        bucket=bucket,
        totals=whole,
        derived=derived(whole),
        series=points,
        experiments=arms(sessions, tenant_id, start_at, end_at),
        guards=list_guards(sessions, tenant_id),
    )


__all__ = ["COUNTERS", "MetricsReport", "RangeError", "build_report"]
