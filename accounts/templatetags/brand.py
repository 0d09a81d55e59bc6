from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from accounts import colors

register = template.Library()


@register.simple_tag
def brand_palette(primary: str) -> SafeString:
    """``--primary: …; --on-primary: …; …`` for a ``<style>`` block; every value is a
    ``#rrggbb`` built by accounts.colors, so nothing the user typed reaches the CSS."""
    declarations = colors.brand_palette(primary)
    return mark_safe(" ".join(f"{name}: {value};" for name, value in declarations.items()))  # noqa: S308


@register.filter
def text_on(background: str) -> str:
    """The readable text colour (white or ink) on ``readable_fill`` of a brand colour."""
    return colors.text_on(background)


@register.filter
def readable_fill(background: str) -> str:
    """The brand colour as a fill that its text colour (``text_on``) reads on."""
    return colors.readable_fill(background)


@register.filter
def valid_hex(value: str) -> str:
    """The colour when it is ``#rrggbb``, else "" (nothing else reaches a stylesheet)."""
    return colors.valid_hex(value)
