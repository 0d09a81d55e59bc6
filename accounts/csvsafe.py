"""CSV exports open in spreadsheets: a cell must never start a formula."""

from __future__ import annotations


def safe_cell(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell never starts with = + - @."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
