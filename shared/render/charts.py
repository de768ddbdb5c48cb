"""Inline SVG charts for the pages: drawn here from the numbers, so a page needs no script and no asset.

A chart is an image with a title and a description (read by screen readers); the page shows the same
numbers in a table beside it, so nothing is only in the picture.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from shared.logic.money import format_cents

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 12, 40
BAR = "#1f5f99"  # 7.0:1 against white
NEGATIVE = "#8a1c00"
INK = "#1a1a1a"


def _nice_ceiling(cents: int) -> int:
    """The axis top: the largest bar rounded up to 1, 2 or 5 times a power of ten dollars."""
    if cents <= 0:
        return 100
    step = 100
    while True:
        for factor in (1, 2, 5):
            if cents <= step * factor:
                return step * factor
        step *= 10


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, int]]) -> Markup:
    """Bars of dollar amounts (label, cents), with a labelled axis; negative bars hang below zero."""
    top = _nice_ceiling(max((c for _, c in bars), default=0))
    bottom = -_nice_ceiling(-min(c for _, c in bars)) if any(c < 0 for _, c in bars) else 0
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT

    def y(cents: int) -> float:
        return TOP + plot_h * (top - cents) / (top - bottom)

    slot = plot_w / max(len(bars), 1)
    zero = y(0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">'
        + escape("; ".join(f"{label}: ${format_cents(c)}" for label, c in bars) or "no amounts")
        + "</desc>",
        f'<g fill="{INK}" font-size="12" font-family="system-ui, sans-serif">',
    ]
    for value in sorted({top, bottom, 0, top // 2}):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#767676" stroke-width="{1 if value == 0 else 0.5}"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">${format_cents(value)}</text>'
        )
    for i, (label, cents) in enumerate(bars):
        x = LEFT + i * slot + slot * 0.15
        height = abs(y(cents) - zero)
        bar_top = min(y(cents), zero)
        colour = BAR if cents >= 0 else NEGATIVE
        parts.append(
            f'<rect x="{x:.1f}" y="{bar_top:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="{colour}"><title>{escape(label)}: ${format_cents(cents)}</title></rect>'
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(label[-2:] if len(bars) > 8 else label)}</text>"
        )
    parts.append("</g></svg>")
    # Every text in the drawing went through escape(); the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704
