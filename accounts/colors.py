"""Readable colours from a user-chosen brand colour (WCAG 2.1 contrast).

A white-label organisation picks any primary colour. The stylesheet never puts text on it
or in it without a partner colour derived here: the text colour on a filled button
(white or ink, whichever reads better, the fill darkened if neither reaches 4.5:1), and a
link/focus colour in the brand's hue darkened until it reads on white and on the pale tint.
"""

from __future__ import annotations

import re

HEX_RE = re.compile(r"^#([0-9a-fA-F]{6})$")
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
INK = (0x1B, 0x1D, 0x29)  # the stylesheet's --text
PAGE = (0xF7, 0xF7, 0xFB)  # the stylesheet's --bg, the darkest background links sit on
TEXT_CONTRAST = 4.5  # WCAG 1.4.3, normal-size text
Rgb = tuple[int, int, int]


def parse_hex(value: str) -> Rgb | None:
    match = HEX_RE.match((value or "").strip())
    if not match:
        return None
    digits = match.group(1)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def to_hex(rgb: Rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def luminance(rgb: Rgb) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Rgb, b: Rgb) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(a: Rgb, b: Rgb, weight_of_a: float) -> Rgb:
    r, g, b_ = (round(x * weight_of_a + y * (1 - weight_of_a)) for x, y in zip(a, b, strict=True))
    return (r, g, b_)


def _darken_until(colour: Rgb, backgrounds: tuple[Rgb, ...], ratio: float) -> Rgb:
    # 5 % steps toward black: at most 40 steps, and black reads on any light background.
    for _ in range(40):
        if all(contrast(colour, background) >= ratio for background in backgrounds):
            return colour
        colour = mix(colour, BLACK, 0.95)
    return BLACK


def brand_palette(primary: str) -> dict[str, str]:
    """CSS custom properties for a brand primary colour, or {} for a malformed one."""
    rgb = parse_hex(primary)
    if rgb is None:
        return {}
    soft = mix(rgb, WHITE, 0.10)
    on = WHITE if contrast(rgb, WHITE) >= contrast(rgb, INK) else INK
    fill = (
        rgb if contrast(rgb, on) >= TEXT_CONTRAST else _darken_until(rgb, (WHITE,), TEXT_CONTRAST)
    )
    if fill != rgb:
        on = WHITE
    hover = mix(fill, BLACK, 0.85) if on == WHITE else mix(fill, WHITE, 0.85)
    # readable on every light background the stylesheet puts brand-coloured text on
    link = _darken_until(rgb, (WHITE, PAGE, soft), TEXT_CONTRAST)
    return {
        "--primary": to_hex(rgb),
        "--primary-fill": to_hex(fill),
        "--primary-fill-hover": to_hex(hover),
        "--on-primary": to_hex(on),
        "--primary-soft": to_hex(soft),
        "--primary-dark": to_hex(link),
        "--link": to_hex(link),
        "--focus": to_hex(link),
        "--brand": to_hex(rgb),
    }


def text_on(background: str) -> str:
    """The text colour for ``background`` as a fill: ``--on-primary`` of its palette."""
    return brand_palette(background).get("--on-primary", to_hex(WHITE))


def valid_hex(value: str) -> str:
    """``value`` when it is a ``#rrggbb`` colour, else ""."""
    rgb = parse_hex(value)
    return to_hex(rgb) if rgb else ""


def readable_fill(background: str) -> str:
    """``background`` itself when white or ink text reads on it, else darkened until white
    text does (what a brand's filled buttons use)."""
    palette = brand_palette(background)
    return palette.get("--primary-fill", to_hex(BLACK))
