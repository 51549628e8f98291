"""The server-rendered bar charts: bars from a zero line, negative ones to its left, text escaped."""

from __future__ import annotations

import re

import pytest

from hub.web.console.analytics_charts import Bar, bar_chart


def rects(svg: str) -> list[tuple[float, float]]:
    return [
        (float(x), float(w)) for x, w in re.findall(r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    ]


def test_bars_grow_from_the_zero_line_and_negative_ones_to_its_left() -> None:
    svg = str(bar_chart([Bar("店舗", 40.0, "+40"), Bar("online", -20.0, "-20")], "NPS", "chart-nps"))
    zero = float(re.search(r'<line x1="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    (positive_x, positive_w), (negative_x, negative_w) = rects(svg)
    assert positive_x == zero and negative_x + negative_w == pytest.approx(zero, abs=0.1)
    assert positive_w == pytest.approx(2 * negative_w, abs=0.2)  # coordinates are written to 0.1 px


def test_labels_and_titles_are_escaped_and_a_missing_value_draws_no_bar() -> None:
    svg = str(bar_chart([Bar("<b>", None, "—")], 'a "title"', "chart-x"))
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert 'aria-label="a &#34;title&#34;"' in svg
    assert rects(svg) == []
