"""Server-rendered SVG bar charts for the analytics page: no script, no front-end build, no inline CSS.

Horizontal bars (labels are Japanese words of any length, so they sit on the left, not under the bars), one
per row, with the value printed at the bar's end. Negative values (an NPS below zero) grow left of the zero
line. Only presentation attributes are used: the console's Content-Security-Policy refuses inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["Bar", "bar_chart"]

WIDTH = 560
LABEL_WIDTH = 150
VALUE_WIDTH = 90
ROW = 26
BAR = 16
TOP = 8
COLOURS = ("#0b5cad", "#2e8b57", "#b26b00", "#7a3fa0", "#a33", "#14324f")


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (``None`` draws nothing) and the value as text."""

    label: str
    value: float | None
    text: str


def bar_chart(bars: Sequence[Bar], title: str, chart_id: str) -> Markup:
    """An ``<svg>`` drawing ``bars`` as horizontal bars, titled ``title`` for screen readers."""
    height = TOP * 2 + ROW * max(len(bars), 1)
    values = [bar.value for bar in bars if bar.value is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    zero = LABEL_WIDTH + plot * (-low / span)
    head = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{}" role="img" viewBox="0 0 {} {}" width="{}" '
        'height="{}" aria-label="{}"><title>{}</title>'
        '<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#9aa5b1"/>'
    ).format(chart_id, WIDTH, height, WIDTH, height, title, title, zero, TOP / 2, zero, height - TOP / 2)
    rows = Markup("").join(_bar(n, bar, zero, plot / span) for n, bar in enumerate(bars))
    return head + rows + Markup("</svg>")


def _bar(n: int, bar: Bar, zero: float, scale: float) -> Markup:
    """One row: the label, the bar from the zero line, and the value text beyond its end."""
    y = TOP + n * ROW
    middle = y + ROW / 2 + 4
    label = Markup('<text x="{}" y="{:.1f}" text-anchor="end" font-size="12">{}</text>').format(
        LABEL_WIDTH - 8, middle, bar.label
    )
    if bar.value is None:
        missing = Markup('<text x="{:.1f}" y="{:.1f}" font-size="12" fill="#66717d">{}</text>')
        return label + missing.format(zero + 6, middle, bar.text)
    length = abs(bar.value) * scale
    x = zero if bar.value >= 0 else zero - length
    end, anchor = (x + length + 6, "start") if bar.value >= 0 else (x - 6, "end")
    rect = Markup(
        '<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{}" fill="{}" data-value="{}"/>'
        '<text x="{:.1f}" y="{:.1f}" text-anchor="{}" font-size="12">{}</text>'
    )
    colour = COLOURS[n % len(COLOURS)]
    top = y + (ROW - BAR) / 2
    return label + rect.format(x, top, max(length, 1), BAR, colour, bar.value, end, middle, anchor, bar.text)
