"""Charts drawn on the server as inline SVG: nothing is loaded from the internet.

FAB's chart views pull Google Charts from a CDN; a self-hosted back office must work on a
closed network, so the dashboard draws its few bar charts here. Labels and values arrive
already translated and formatted; everything is escaped before it reaches the SVG.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 240
TOP = 24
BOTTOM = 36
LEFT = 12
RIGHT = 12


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar ("gen 2026", "1-30")
    value: Decimal
    shown: str  # the formatted value, above the bar and in its tooltip ("1.234,56 €")


def bar_chart(bars: list[Bar], title: str, color: str = "#337ab7") -> Markup:
    """A responsive SVG bar chart; bars scale to the largest value (an empty chart stays flat).

    Heights are pixels, so they may go through a float; the amounts shown are `shown`."""
    count = max(len(bars), 1)
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / count
    bar_width = slot * 0.7
    largest = max((bar.value for bar in bars), default=Decimal(0))
    parts = [
        f'<svg class="clientela-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_height}" '
        'stroke="#999" stroke-width="1"/>',
    ]
    for index, bar in enumerate(bars):
        share = float(bar.value / largest) if largest > 0 and bar.value > 0 else 0.0
        height = round(plot_height * share, 1)
        x = round(LEFT + slot * index + (slot - bar_width) / 2, 1)
        y = round(TOP + plot_height - height, 1)
        center = round(x + bar_width / 2, 1)
        parts.append(
            f'<g><title>{escape(bar.label)}: {escape(bar.shown)}</title>'
            f'<rect x="{x}" y="{y}" width="{round(bar_width, 1)}" height="{height}" fill="{escape(color)}" rx="2"/>'
            f'<text x="{center}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" '
            f'fill="#555">{escape(bar.label)}</text>'
        )
        # Twelve monthly amounts do not fit above their bars: those stay in the tooltip.
        if bar.value > 0 and count <= 6:
            parts.append(
                f'<text x="{center}" y="{max(y - 4, 10)}" font-size="10" text-anchor="middle" '
                f'fill="#333">{escape(bar.shown)}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
