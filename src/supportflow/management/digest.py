"""The daily digest mailed to a tenant's admins: the last 24 hours' figures, with a chart.

Pure: a ``MetricsReport`` in, a subject, a plain-text body and an HTML body out. The chart is
an HTML table of bars with inline styles (mail clients show those; they drop scripts, SVG and
external images), and the text body draws the same series as a line of block characters.
Aggregate figures only: no customer, order or message.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from supportflow.management.report import MetricsReport

_BLOCKS = " ▁▂▃▄▅▆▇█"
# (counter or derived name, label, kind)
_LINES: tuple[tuple[str, str, str], ...] = (
    ("cases_closed", "Cases closed", "count"),
    ("automation_rate", "Automation rate (closed without a person)", "rate"),
    ("resolved_alone_rate", "Resolved by the agent alone", "rate"),
    ("handoffs", "Hand-overs to a person", "count"),
    ("sla_breaches", "SLA breaches", "count"),
    ("refunds", "Refunds", "count"),
    ("refund_amount", "Refunded", "money"),
    ("store_errors", "Store errors", "count"),
    ("sales_touches", "Sales touches", "count"),
    ("conversions", "Conversions", "count"),
    ("conversion_amount", "Converted orders' value", "money"),
    ("saves", "Orders saved", "count"),
    ("csat_mean", "CSAT (1-5)", "mean"),
)


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str


def _value(report: MetricsReport, name: str, kind: str) -> str:
    raw = report.totals.get(name) if name in report.totals else report.derived.get(name)
    if raw is None:
        return "-"
    if kind == "rate":
        return f"{raw * 100:.0f}%"
    if kind == "money":
        return f"{raw:,.2f}"
    if kind == "mean":
        return f"{raw:.2f}"
    return f"{raw:,.0f}"


def sparkline(values: list[float]) -> str:
    peak = max(values, default=0.0)
    if peak <= 0:
        return _BLOCKS[1] * len(values)
    return "".join(_BLOCKS[max(1, round(v / peak * 8))] if v > 0 else _BLOCKS[1] for v in values)


def _bars(values: list[float], labels: list[str]) -> str:
    peak = max(values, default=0.0)
    cells = []
    for value, label in zip(values, labels, strict=True):
        height = 2 if peak <= 0 or value <= 0 else max(2, round(60 * value / peak))
        cells.append(
            '<td style="vertical-align:bottom;padding:0 1px" '
            f'title="{escape(label)}: {value:,.0f}">'
            f'<div style="width:10px;height:{height}px;background:#2f5bea"></div></td>'
        )
    return (
        '<table role="img" aria-label="Cases closed per hour" cellspacing="0" cellpadding="0" '
        f'style="border-collapse:collapse;height:64px"><tr>{"".join(cells)}</tr></table>'
    )


def compose_digest(tenant_name: str, report: MetricsReport, console_url: str) -> Digest:
    day = report.end.strftime("%d %b %Y")
    subject = f"Daily report for {tenant_name}: {day}"
    cases = [p.counters.get("cases_closed", 0.0) for p in report.series]
    hours = [p.start.strftime("%H:00") for p in report.series]
    span = f"{report.start:%d %b %H:%M} to {report.end:%d %b %H:%M} UTC"
    rows = [(label, _value(report, name, kind)) for name, label, kind in _LINES]
    guards = [g for g in report.guards if g.lifted_at is None]
    text_lines = [f"{subject}", f"The last 24 hours ({span}).", ""]
    text_lines += [f"{label}: {value}" for label, value in rows]
    text_lines += ["", f"Cases closed per hour: {sparkline(cases)}"]
    if guards:
        text_lines += ["", "Guards on the policy (lift them in the console):"]
        text_lines += [f"- {g.kind}: {g.reason}" for g in guards]
    text_lines += ["", f"Figures and charts: {console_url}", ""]
    table = "".join(
        f'<tr><td style="padding:2px 12px 2px 0">{escape(label)}</td>'
        f'<td style="padding:2px 0;text-align:right"><b>{escape(value)}</b></td></tr>'
        for label, value in rows
    )
    guard_html = "".join(f"<li>{escape(g.kind)}: {escape(g.reason)}</li>" for g in guards)
    html = (
        '<div style="font-family:Arial,Helvetica,sans-serif;color:#111827">'
        f'<h2 style="margin:0 0 4px">{escape(subject)}</h2>'
        f'<p style="color:#6b7280;margin:0 0 12px">The last 24 hours ({escape(span)}).</p>'
        f"<table>{table}</table>"
        '<p style="margin:16px 0 4px">Cases closed per hour</p>'
        f"{_bars(cases, hours)}"
        + (
            f'<p style="margin:16px 0 4px">Guards on the policy</p><ul>{guard_html}</ul>'
            if guards
            else ""
        )
        + f'<p style="margin-top:16px"><a href="{escape(console_url)}">'
        "Open the Metrics page</a></p>"
        "</div>"
    )
    return Digest(subject, "\n".join(text_lines), html)
