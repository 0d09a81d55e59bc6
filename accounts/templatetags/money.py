from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """Integer cents → "1,234.56" (money stays an integer until it is shown)."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return ""
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(value), 100)
    return f"{sign}{whole:,}.{rest:02d}"
