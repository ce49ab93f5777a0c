"""Small line charts as inline SVG, drawn on the server: no script, so the overview page runs under a CSP
without ``script-src``. Every label is escaped; values that are not finite numbers are left out."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

WIDTH, HEIGHT = 430, 190
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 40
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")

Series = tuple[str, Sequence[float | None]]  # label, one value per x label (None: no point)


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, threshold: float | None = None) -> str:
    """An SVG line chart (class ``plot``): one polyline and one ``circle.point`` per finite value of each series,
    an optional dashed threshold line, the first and last x label. Empty input gives a short note instead."""
    cleaned = [(label, [_finite(v) for v in values]) for label, values in series]
    values = [v for _, vs in cleaned for v in vs if v is not None]
    if not x_labels or not values:
        return f"<p class='empty'>{html.escape(title)}: no data yet</p>"
    limit = _finite(threshold)
    bounds = [*values, *([limit] if limit is not None else [])]
    low, high = min(bounds), max(bounds)
    low = min(low, 0.0) if low >= 0 and high > 0 and low < high * 0.5 else low
    if high == low:
        high, low = high + (abs(high) or 1) * 0.5, low - (abs(low) or 1) * 0.5
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(x_labels)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (high - v) / (high - low)

    parts = [
        f"<svg class='plot' xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' role='img' aria-label='{html.escape(title, quote=True)}'>",
        f"<title>{html.escape(title)}</title>",
        f"<rect x='{LEFT}' y='{TOP}' width='{plot_w}' height='{plot_h}' fill='#fafafa' stroke='#ccc'/>",
        f"<text x='4' y='{TOP + 4}' font-size='10'>{_fmt(high)}</text>",
        f"<text x='4' y='{TOP + plot_h}' font-size='10'>{_fmt(low)}</text>",
        f"<text x='{LEFT}' y='{HEIGHT - 24}' font-size='10'>{html.escape(x_labels[0])}</text>",
        f"<text x='{LEFT + plot_w}' y='{HEIGHT - 24}' font-size='10' text-anchor='end'>"
        f"{html.escape(x_labels[-1])}</text>",
    ]
    if limit is not None:
        parts.append(
            f"<line class='threshold' x1='{LEFT}' x2='{LEFT + plot_w}' y1='{y(limit):.1f}' y2='{y(limit):.1f}' "
            f"stroke='#b00020' stroke-dasharray='4 3'><title>threshold {_fmt(limit)}</title></line>"
        )
    legend_x = LEFT
    for k, (label, vs) in enumerate(cleaned):
        colour = COLOURS[k % len(COLOURS)]
        points = [(x(i), y(v), v, x_labels[i]) for i, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{coords}'/>")
        for px, py, v, at in points:
            tip = html.escape(f"{label} {at}: {_fmt(v)}")
            circle = f"<circle class='point' cx='{px:.1f}' cy='{py:.1f}' r='3' fill='{colour}'>"
            parts.append(f"{circle}<title>{tip}</title></circle>")
        parts.append(
            f"<text x='{legend_x}' y='{HEIGHT - 6}' font-size='11' fill='{colour}'>■ {html.escape(label)}</text>"
        )
        legend_x += 12 + 7 * len(label) + 14
    parts.append("</svg>")
    return "".join(parts)
