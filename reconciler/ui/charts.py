"""Activity charts: the requests made with one authorization, as bars, from `show --format json`'s ``requests``.

The input is exactly what ``authctl show NAME --format json`` prints under ``requests``
(views.requests_json): the platform's own counts for the last hour, day, week and month,
and ``hourly``, 720 zero-filled hour buckets, oldest first, the last one the current hour.
Each chart's headline is the platform's count for its window (the number `show` prints);
its bars are the hour buckets that count adds up (the platform counts whole buckets from
the one the window starts in: the last hour is two buckets, the last day 25):

========  ==========================================================================
hour      2 bars (the previous and the current hour), beside a line at the busiest
          hour of the last day (a single number reads better against something)
day       25 bars, one per hour
week      169 bars, one per hour
month     30 bars of 24 hours each, ending with the current hour
========  ==========================================================================

A platform that counts requests but reports no series (a real Lytics) gets the counts and
no bars, and says so. Geometry only: the template (templates/_charts.html) draws the SVG,
so every text in it goes through Jinja's autoescaping like the rest of the page. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WIDTH = 336  # viewBox units; the CSS scales the chart to its box
HEIGHT = 96
TOP = 8  # room above the tallest bar
WINDOWS = (("hour", "Last hour", 2, 1), ("day", "Last day", 25, 1), ("week", "Last week", 169, 1),
           ("month", "Last month", 720, 24))  # (key, title, hour buckets shown, buckets per bar)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str  # the bar's time span and count, shown on hover (an SVG <title>)
    current: bool = False  # the bar holding the current hour


@dataclass(frozen=True)
class Chart:
    key: str  # hour | day | week | month
    title: str
    total: int  # the platform's count for the window (`show`'s number)
    bars: tuple[Bar, ...]
    peak: int  # the tallest bar's count (the scale)
    reference: float | None = None  # hour: the y of the busiest hour of the last day
    reference_count: int = 0
    start_label: str = ""
    end_label: str = ""
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def has_series(self) -> bool:
        return bool(self.bars)

    @property
    def description(self) -> str:
        """What the chart shows, in words (its accessible name)."""
        if not self.bars:
            return f"{self.title}: {_requests(self.total)} (no hourly series reported)"
        return f"{self.title}: {_requests(self.total)}; busiest bar {self.peak}"


def _span(start: datetime, hours: int) -> str:
    end = start + timedelta(hours=hours)
    if hours == 1:
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def _bars(hours: Sequence[tuple[datetime, int]], per_bar: int, scale: int) -> tuple[Bar, ...]:
    groups = [hours[i:i + per_bar] for i in range(0, len(hours), per_bar)]
    slot = WIDTH / max(len(groups), 1)
    gap = min(1.0, slot * 0.2) if len(groups) > 1 else 0.0
    usable = HEIGHT - TOP
    bars = []
    for index, group in enumerate(groups):
        count = sum(c for _, c in group)
        height = usable * count / scale if scale else 0.0
        if count and height < 1:
            height = 1.0  # a bar with requests is never invisible
        bars.append(Bar(round(index * slot, 2), round(HEIGHT - height, 2), round(max(slot - gap, 0.5), 2),
                        round(height, 2), count, f"{_span(group[0][0], len(group))}: {_requests(count)}",
                        current=index == len(groups) - 1))
    return tuple(bars)


def _requests(count: int) -> str:
    return f"{count} request" if count == 1 else f"{count} requests"


def activity_charts(requests: dict[str, Any] | None) -> list[Chart]:
    """The four charts of an authorization page, from `show --format json`'s ``requests`` (None: not reported)."""
    if requests is None:
        return []
    series = [(datetime.fromisoformat(h["hour"]), int(h["count"])) for h in requests.get("hourly") or ()]
    charts: list[Chart] = []
    for key, title, hours, per_bar in WINDOWS:
        total = int(requests.get(key) or 0)
        if not series:
            charts.append(Chart(key, title, total, (), 0))
            continue
        window = series[-hours:]
        if key == "hour":
            busiest = max(c for _, c in series[-25:])
            bars = _bars(window, per_bar, busiest)
            reference = float(TOP) if busiest else None  # the scale is the busiest hour: its line is the top
            charts.append(Chart(key, title, total, bars, max(c for _, c in window), reference, busiest,
                                f"{window[0][0]:%H:%M}", "now"))
            continue
        counts = [sum(c for _, c in window[i:i + per_bar]) for i in range(0, len(window), per_bar)]
        peak = max(counts, default=0)
        charts.append(Chart(key, title, total, _bars(window, per_bar, peak), peak,
                            start_label=f"{window[0][0]:%Y-%m-%d %H:%M}", end_label="now"))
    return charts


__all__ = ["Bar", "Chart", "activity_charts"]
