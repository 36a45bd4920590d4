"""What the console's Metrics page shows (management agent, issue 14): headline figures,
charts over time, conversions per experiment arm, and the guards on the policy.

Read from the same report as ``GET /v1/metrics`` (management/report.py); aggregate figures
only, no customer data, so the page is rendered on the server, charts included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from supportflow.api.console.charts import Chart, bar_chart, fmt
from supportflow.management.batch import GuardView
from supportflow.management.report import ArmFigures, Granularity, build_report
from supportflow.management.settings_store import get_config

RangeName = Literal["24h", "7d", "30d"]
RANGES: dict[str, tuple[str, timedelta, Granularity]] = {
    "24h": ("Last 24 hours", timedelta(hours=24), "hour"),
    "7d": ("Last 7 days", timedelta(days=7), "hour"),
    "30d": ("Last 30 days", timedelta(days=30), "day"),
}


@dataclass(frozen=True)
class Stat:
    key: str
    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class MetricsPage:
    range_name: str
    range_label: str
    start: datetime
    end: datetime
    bucket: str
    stats: tuple[Stat, ...]
    charts: tuple[Chart, ...]
    arms: tuple[ArmFigures, ...]
    guards: tuple[GuardView, ...]
    guard_enabled: bool
    poll_minutes: float


# (counter or derived name, title, money, rate)
_CHARTS: tuple[tuple[str, str, bool, bool], ...] = (
    ("cases_closed", "Cases closed", False, False),
    ("automation_rate", "Automation rate", False, True),
    ("handoffs", "Hand-overs to a person", False, False),
    ("sla_breaches", "SLA breaches", False, False),
    ("refunds", "Refunds", False, False),
    ("refund_amount", "Refunded", True, False),
    ("store_errors", "Store errors", False, False),
    ("conversions", "Sales conversions", False, False),
    ("saves", "Orders saved", False, False),
    ("csat_mean", "CSAT (mean, 1-5)", False, False),
)


def metrics_page(
    sessions: sessionmaker[Session], tenant_id: str, range_name: str, now: datetime | None = None
) -> MetricsPage:
    label, span, bucket = RANGES.get(range_name, RANGES["7d"])
    now = now or datetime.now(UTC)
    r = build_report(sessions, tenant_id, start=now - span, end=now, bucket=bucket)
    t, d = r.totals, r.derived
    stats = (
        Stat("cases", "Cases closed", fmt(t["cases_closed"])),
        Stat(
            "automation",
            "Automation rate",
            fmt(d["automation_rate"], rate=True),
            "closed without a person",
        ),
        Stat(
            "resolved_alone",
            "Resolved by the agent alone",
            fmt(d["resolved_alone_rate"], rate=True),
        ),
        Stat("handoffs", "Hand-overs", fmt(t["handoffs"])),
        Stat("sla", "SLA breaches", fmt(t["sla_breaches"])),
        Stat("refunds", "Refunds", fmt(t["refunds"]), fmt(t["refund_amount"], money=True)),
        Stat("store_errors", "Store errors", fmt(t["store_errors"])),
        Stat(
            "conversions",
            "Conversions",
            fmt(t["conversions"]),
            fmt(t["conversion_amount"], money=True),
        ),
        Stat("saves", "Saves", fmt(t["saves"])),
        Stat("csat", "CSAT", fmt(d["csat_mean"]), f"{fmt(t['csat_count'])} ratings"),
    )
    starts = [p.start for p in r.series]
    fmt_label = "%d %b %H:00" if bucket == "hour" else "%d %b"
    charts: list[Chart] = []
    for name, title, money, rate in _CHARTS:
        if name in r.totals:
            values: list[float | None] = [p.counters.get(name, 0.0) for p in r.series]
            total: float | None = r.totals[name]
        else:
            values = [p.derived.get(name) for p in r.series]
            total = r.derived.get(name)
        charts.append(
            bar_chart(
                name,
                title,
                starts,
                values,
                label_format=fmt_label,
                money=money,
                rate=rate,
                total=total,
            )
        )
    config = get_config(sessions, tenant_id)
    return MetricsPage(
        range_name=range_name if range_name in RANGES else "7d",
        range_label=label,
        start=r.start,
        end=r.end,
        bucket=bucket,
        stats=stats,
        charts=tuple(charts),
        arms=tuple(r.experiments),
        guards=tuple(r.guards),
        guard_enabled=config.guard_enabled,
        poll_minutes=config.poll_interval.total_seconds() / 60,
    )
