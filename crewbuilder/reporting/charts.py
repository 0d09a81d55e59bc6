"""Small server-rendered SVG charts (no JavaScript, no external assets, CSP-friendly).

Every label is escaped; numbers are formatted by the caller-supplied function. The SVGs
scale with their container (viewBox) and carry a <title> per bar for hover tooltips.

Each chart is drawn twice: a wide drawing for desktop and one sized for a phone (390 px),
where a scaled-down wide drawing would shrink its labels to a few pixels. The stylesheet
shows one of them (``.chart-wide`` / ``.chart-narrow``); the hidden one is not displayed,
so assistive technology meets each chart once.

Two kinds: ``column_chart``/``bar_chart`` (usage analytics) and ``daily_usage_charts``
(the billing page's CrewBuilder AI generations per day). This module imports no app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def _fmt_int(value: float) -> str:
    return f"{int(value):,}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


WIDE = "chart chart-wide"
NARROW = "chart chart-narrow"


def column_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    fmt: Callable[[float], str] = _fmt_int,
) -> SafeString:
    """Vertical bars over time (e.g. one per day), a wide and a phone drawing."""
    wide = _columns(points, title=title, fmt=fmt, width=720, height=220, labels=8, css=WIDE)
    narrow = _columns(points, title=title, fmt=fmt, width=330, height=200, labels=4, css=NARROW)
    return wide + narrow


def _columns(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    fmt: Callable[[float], str],
    width: int,
    height: int,
    labels: int,
    css: str,
) -> SafeString:
    """One drawing: about ``labels`` day labels are printed along the bottom."""
    pad_left, pad_bottom, pad_top = 56, 28, 12
    plot_w, plot_h = width - pad_left - 8, height - pad_bottom - pad_top
    top = _nice_max(max((v for _, v in points), default=0))
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1)
    label_every = max(1, round(n / labels))
    parts = [
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    previous = None
    for i in range(5):
        label = fmt(top * i / 4)
        if label == previous:  # small ranges: no repeated tick labels ("0, 0, 0, 1")
            continue
        previous = label
        y = pad_top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{pad_left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{pad_left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top) if top else 0
        x = pad_left + i * slot + (slot - bar_w) / 2
        y = pad_top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" class="axis" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped above


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    fmt: Callable[[float], str] = _fmt_int,
) -> SafeString:
    """Horizontal bars, one row per category (model, member, key source), a wide and a
    phone drawing."""
    wide = _bars(rows, title=title, fmt=fmt, width=400, label_w=150, css=WIDE)
    narrow = _bars(rows, title=title, fmt=fmt, width=320, label_w=120, css=NARROW)
    return wide + narrow


def _bars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    fmt: Callable[[float], str],
    width: int,
    label_w: int,
    css: str,
) -> SafeString:
    row_h, pad = 26, 8
    height = max(len(rows), 1) * row_h + pad * 2
    top = max((v for _, v in rows), default=0) or 1
    plot_w = width - label_w - 80
    longest = max(8, label_w // 7)  # characters that fit beside the bars at 12 px
    parts = [
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append(f'<text x="{pad}" y="{pad + 16}" class="axis">No data</text>')
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        w = plot_w * value / top
        short = label if len(label) <= longest else label[: longest - 1] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" class="axis" text-anchor="end">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
            f'class="bar"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="value">{escape(fmt(value))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated label is escaped above


# --- the billing page's daily usage chart ----------------------------------------------

AXIS = "#555e72"  # the stylesheet's --muted: 6.5:1 on white
BAR = "#4f46e5"


def daily_usage_svg(
    history: list[tuple[date, int]],
    *,
    width: int = 640,
    height: int = 160,
    font_size: int = 10,
    css_class: str = "usage-chart",
) -> SafeString:
    """A bar chart of generations per day, with the peak labelled and an accessible title."""
    pad_left, pad_bottom, pad_top = 12 + 2 * font_size, 10 + font_size, 12
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    peak = max((count for _, count in history), default=0)
    scale = max(peak, 1)
    slot = plot_w / max(len(history), 1)
    bar_w = max(slot * 0.7, 1.0)
    total = sum(count for _, count in history)
    first = history[0][0].isoformat() if history else ""
    last = history[-1][0].isoformat() if history else ""
    title = f"{total} CrewBuilder AI generations from {first} to {last}; busiest day {peak}"
    parts = [
        f'<svg class="{css_class}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 4}" y2="{pad_top + plot_h}" '
        'stroke="#d0d5dd" stroke-width="1"/>',
        f'<text x="{pad_left - 6}" y="{pad_top + plot_h}" font-size="{font_size}" '
        f'text-anchor="end" fill="{AXIS}">0</text>',
    ]
    if peak:
        parts.append(
            f'<text x="{pad_left - 6}" y="{pad_top + font_size * 0.4:.0f}" '
            f'font-size="{font_size}" text-anchor="end" fill="{AXIS}">{peak}</text>'
        )
    for i, (day, count) in enumerate(history):
        bar_h = plot_h * count / scale
        x = pad_left + i * slot + (slot - bar_w) / 2
        y = pad_top + plot_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
            f'rx="2" fill="{BAR}"><title>{day.isoformat()}: {count}</title></rect>'
        )
    if history:
        parts.append(
            f'<text x="{pad_left}" y="{height - 4}" font-size="{font_size}" fill="{AXIS}">'
            f"{escape(history[0][0].strftime('%b %d'))}</text>"
        )
        parts.append(
            f'<text x="{width - 4}" y="{height - 4}" font-size="{font_size}" text-anchor="end" '
            f'fill="{AXIS}">{escape(history[-1][0].strftime("%b %d"))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated value is a number or escaped


def daily_usage_charts(history: list[tuple[date, int]]) -> SafeString:
    """The chart drawn twice: for desktop, and for a phone's width with labels that stay
    readable (the stylesheet shows one; the hidden one is not displayed, so assistive
    technology meets it once)."""
    wide = daily_usage_svg(history, css_class="usage-chart chart-wide")
    narrow = daily_usage_svg(
        history, width=330, height=170, font_size=13, css_class="usage-chart chart-narrow"
    )
    return wide + narrow
