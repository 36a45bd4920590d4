"""Small bar charts as SVG, drawn on the server from numbers (the console's Metrics page).

Nothing is fetched at run time and no script draws them: the template turns each ``Chart``
into an inline ``<svg>`` with presentation attributes only (the page's Content-Security-Policy
allows no inline style). Every chart has a title and a text summary for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH = 320
HEIGHT = 96
# Room for the axis labels below the bars.
PLOT_HEIGHT = 78


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the bucket and its value, for the <title> a pointer shows


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    total: str
    bars: tuple[Bar, ...]
    peak: str
    first_label: str
    last_label: str
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_height: int = PLOT_HEIGHT


def fmt(value: float | None, *, money: bool = False, rate: bool = False) -> str:
    if value is None:
        return "-"
    if rate:
        return f"{value * 100:.0f}%"
    if money:
        return f"{value:,.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(
    key: str,
    title: str,
    starts: Sequence[datetime],
    values: Sequence[float | None],
    *,
    label_format: str,
    money: bool = False,
    rate: bool = False,
    total: float | None = None,
) -> Chart:
    """One bar per bucket, scaled to the largest; a bucket with no value draws no bar."""
    n = max(len(values), 1)
    peak = max((v for v in values if v is not None), default=0.0)
    slot = WIDTH / n
    gap = min(2.0, slot * 0.2)
    bars: list[Bar] = []
    for i, (start, value) in enumerate(zip(starts, values, strict=True)):
        when = start.strftime(label_format)
        if value is None or value <= 0 or peak <= 0:
            continue
        h = max(1.0, PLOT_HEIGHT * value / peak)
        bars.append(
            Bar(
                x=round(i * slot + gap / 2, 2),
                y=round(PLOT_HEIGHT - h, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(h, 2),
                label=f"{when}: {fmt(value, money=money, rate=rate)}",
            )
        )
    first = starts[0].strftime(label_format) if starts else ""
    last = starts[-1].strftime(label_format) if starts else ""
    shown = fmt(total, money=money, rate=rate)
    return Chart(
        key=key,
        title=title,
        total=shown,
        bars=tuple(bars),
        peak=fmt(peak, money=money, rate=rate),
        first_label=first,
        last_label=last,
        summary=(
            f"{title}: {shown} in all, from {first} to {last}; "
            f"highest {fmt(peak, money=money, rate=rate)} in one bucket."
        ),
    )
