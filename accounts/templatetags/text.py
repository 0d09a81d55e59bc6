from __future__ import annotations

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def breakable_path(value: str) -> SafeString:
    """A file path that may wrap after each ``/`` on a narrow screen (escaped, ``<wbr>``)."""
    parts = [conditional_escape(part) for part in str(value).split("/")]
    return mark_safe("/<wbr>".join(parts))  # noqa: S308 - every part is escaped above
