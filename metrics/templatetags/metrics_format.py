"""Formatting for the metrics page: shares as percentages, seconds as durations, missing numbers as a dash."""
from django import template

register = template.Library()
DASH = "–"


@register.filter
def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f} %"


@register.filter
def duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@register.filter
def count(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


@register.filter
def rate(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"
