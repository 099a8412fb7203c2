"""Bar charts drawn on the server as SVG (matplotlib, no pyplot: one Figure per request, so
requests on several threads never share drawing state); the app works offline."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator

INK = "#1c2333"
MUTED = "#5d6579"
BAR = "#3056d3"
LATE = "#b45309"
GRID = "#e3e7ef"


@dataclass(frozen=True)
class DayBar:
    day: date
    hours: float
    late: bool


# rc_context changes matplotlib's global settings for its duration: one chart at a time.
_SAVING = threading.Lock()


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # Text stays text (<text>, readable and searchable) instead of glyph outlines.
    with _SAVING, rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", transparent=True)
    return buffer.getvalue()


def _style(axes) -> None:
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID)
    axes.tick_params(colors=MUTED, labelsize=8, length=0)
    axes.yaxis.grid(True, color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)


def arrivals_per_hour(hours: Sequence[int], first_hour: int = 6, last_hour: int = 20) -> bytes:
    """Bars of how many people arrived in each hour of the day (local hours 0..23)."""
    counts = [0] * 24
    for hour in hours:
        counts[hour] += 1
    low = min([first_hour, *hours]) if hours else first_hour
    high = max([last_hour, *hours]) if hours else last_hour
    shown = list(range(low, high + 1))
    figure = Figure(figsize=(6.4, 2.0), dpi=100)
    axes = figure.subplots()
    axes.bar(shown, [counts[h] for h in shown], color=BAR, width=0.7)
    axes.set_xticks(shown, [f"{h:02d}" for h in shown])
    # The default locator, but with whole numbers only: people arrive one at a time.
    locator = AutoLocator()
    locator.set_params(integer=True)
    axes.yaxis.set_major_locator(locator)
    axes.set_ylim(0, max(1, *counts) * 1.15)
    _style(axes)
    figure.text(0.01, 0.96, "Arrivals per hour", color=INK, fontsize=9, va="top")
    return _svg(figure)


def hours_per_day(days: Sequence[DayBar]) -> bytes:
    """Bars of hours on site per day, late days in another colour (and said in the legend)."""
    figure = Figure(figsize=(6.4, 2.2), dpi=100)
    axes = figure.subplots()
    positions = range(len(days))
    colours = [LATE if d.late else BAR for d in days]
    axes.bar(positions, [d.hours for d in days], color=colours, width=0.7)
    for position, d in zip(positions, days, strict=True):
        if d.late:
            axes.text(position, d.hours + 0.2, "late", ha="center", fontsize=6, color=LATE)
    labels = [d.day.strftime("%m-%d") if d.day.weekday() == 0 else "" for d in days]
    axes.set_xticks(list(positions), labels)
    axes.set_ylim(0, max([8.0, *(d.hours for d in days)]) * 1.15)
    axes.set_ylabel("hours", color=MUTED, fontsize=8)
    _style(axes)
    figure.text(0.01, 0.97, "Hours on site (Mondays labelled)", color=INK, fontsize=9, va="top")
    return _svg(figure)
