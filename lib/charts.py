"""Small server-side SVG charts for the metrics page: no JavaScript, no CDN, readable in light and dark themes.

Text and grid lines use `currentColor`, so they follow the admin's theme; each
chart is a self-contained <svg> that scales to the width of its container.
"""
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"'
Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str


@dataclass(frozen=True)
class TargetLine:
    value: float
    label: str
    color: str = "currentColor"


def percent(value: float) -> str:
    return f"{value:.0f} %"


def number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value < 100 else f"{value:.0f}"


def nice_max(value: float) -> float:
    """The smallest round number at or above value whose quarters are round too (the grid has four steps)."""
    if value <= 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    return next(step * scale for step in (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10) if value <= step * scale * (1 + 1e-9))


def _svg(height: int, body: list[str], title: str) -> SafeString:
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT} preserveAspectRatio="xMidYMin meet">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="currentColor" {extra}>{escape(text)}</text>'


def _legend(series: Sequence[Series | TargetLine], *, x: float, y: float) -> list[str]:
    parts = []
    for item in series:
        if isinstance(item, TargetLine):
            parts.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 14:.1f}" y2="{y - 4:.1f}" '
                         f'stroke="{item.color}" stroke-width="2" stroke-dasharray="4 3"/>')
            name = item.label
        else:
            parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" rx="2" fill="{item.color}"/>')
            name = item.name
        parts.append(_text(x + 18, y, name))
        x += 30 + 6.6 * len(name)
    return parts


def _empty(title: str, height: int = 80) -> SafeString:
    return _svg(height, [_text(WIDTH / 2, height / 2, "No data yet", anchor="middle", extra='opacity="0.6"')], title)


@dataclass(frozen=True)
class Frame:
    """The plotting area of a vertical chart: left/top margins and size, y from 0 to top_value."""

    left: float
    top: float
    width: float
    height: float
    top_value: float

    def y(self, value: float) -> float:
        return self.top + self.height * (1 - min(value, self.top_value) / self.top_value)

    def grid(self, fmt: Formatter, steps: int = 4) -> list[str]:
        parts = []
        for index in range(steps + 1):
            value = self.top_value * index / steps
            y = self.y(value)
            parts.append(f'<line x1="{self.left:.1f}" y1="{y:.1f}" x2="{self.left + self.width:.1f}" y2="{y:.1f}" '
                         f'stroke="currentColor" stroke-opacity="{0.35 if index == 0 else 0.12}"/>')
            parts.append(_text(self.left - 6, y + 4, fmt(value), anchor="end", extra='opacity="0.7"'))
        return parts

    def target(self, target: TargetLine) -> str:
        y = self.y(target.value)
        return (f'<line x1="{self.left:.1f}" y1="{y:.1f}" x2="{self.left + self.width:.1f}" y2="{y:.1f}" '
                f'stroke="{target.color}" stroke-width="1.5" stroke-dasharray="5 4"/>')

    def x_labels(self, labels: Sequence[str], centers: Sequence[float]) -> list[str]:
        every = max(1, -(-len(labels) // 12))
        return [_text(x, self.top + self.height + 16, label, anchor="middle", extra='opacity="0.8"')
                for index, (label, x) in enumerate(zip(labels, centers, strict=True)) if index % every == 0]


def line_chart(*, title: str, labels: Sequence[str], series: Sequence[Series], targets: Sequence[TargetLine] = (),
               top_value: float = 100.0, fmt: Formatter = percent, height: int = 240) -> SafeString:
    """Lines over categories (weeks); gaps where a value is None; dashed horizontal target lines."""
    if not labels or all(value is None for item in series for value in item.values):
        return _empty(title)
    frame = Frame(left=48, top=30, width=WIDTH - 64, height=height - 60, top_value=top_value)
    step = frame.width / max(len(labels), 1)
    centers = [frame.left + step * (index + 0.5) for index in range(len(labels))]
    body = [*frame.grid(fmt), *(frame.target(target) for target in targets)]
    for item in series:
        body += _polyline(item, centers, frame, fmt)
    body += frame.x_labels(labels, centers)
    body += _legend([*series, *targets], x=frame.left, y=16)
    return _svg(height, body, title)


def _polyline(item: Series, centers: Sequence[float], frame: Frame, fmt: Formatter) -> list[str]:
    parts, run = [], []
    points = [(x, value) for x, value in zip(centers, item.values, strict=True)]
    for x, value in points + [(0.0, None)]:
        if value is not None:
            run.append(f"{x:.1f},{frame.y(value):.1f}")
            continue
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{item.color}" '
                         f'stroke-width="2.5" stroke-linejoin="round"/>')
        run = []
    for x, value in points:
        if value is not None:
            parts.append(f'<circle cx="{x:.1f}" cy="{frame.y(value):.1f}" r="3.5" fill="{item.color}">'
                         f"<title>{escape(item.name)}: {escape(fmt(value))}</title></circle>")
    return parts


def stacked_columns(*, title: str, labels: Sequence[str], series: Sequence[Series],
                    target: TargetLine | None = None, fmt: Formatter = number, height: int = 240) -> SafeString:
    """One column per label, stacked from the series; the total is written above each column."""
    totals = [sum(item.values[index] or 0 for item in series) for index in range(len(labels))]
    if not labels or not any(totals):
        return _empty(title)
    top_value = nice_max(max([*totals, target.value * 1.05 if target else 0]))
    frame = Frame(left=48, top=30, width=WIDTH - 64, height=height - 60, top_value=top_value)
    step = frame.width / len(labels)
    bar = min(step * 0.6, 48)
    centers = [frame.left + step * (index + 0.5) for index in range(len(labels))]
    body = frame.grid(fmt)
    for index, x in enumerate(centers):
        base = 0.0
        for item in series:
            value = item.values[index] or 0
            if value > 0:
                y0, y1 = frame.y(base), frame.y(base + value)
                body.append(f'<rect x="{x - bar / 2:.1f}" y="{y1:.1f}" width="{bar:.1f}" height="{y0 - y1:.1f}" '
                            f'fill="{item.color}"><title>{escape(labels[index])} {escape(item.name)}: '
                            f"{escape(fmt(value))}</title></rect>")
            base += value
        if totals[index]:
            body.append(_text(x, frame.y(totals[index]) - 4, fmt(totals[index]), anchor="middle"))
    if target:
        body.append(frame.target(target))
    body += frame.x_labels(labels, centers)
    body += _legend([*series, *([target] if target else [])], x=frame.left, y=16)
    return _svg(height, body, title)


def bar_rows(*, title: str, labels: Sequence[str], series: Sequence[Series], targets: Sequence[float | None] = (),
             top_value: float | None = None, fmt: Formatter = number) -> SafeString:
    """Horizontal bars: one group per label, one bar per series; targets[i] marks series i with a dashed tick."""
    values = [value for item in series for value in item.values if value is not None]
    if not labels or not values:
        return _empty(title)
    top_value = top_value or nice_max(max([*values, *(target * 1.05 for target in targets if target is not None)]))
    label_width = min(max(len(label) for label in labels) * 7 + 12, 200)
    left, right, bar, gap = label_width, WIDTH - 56, 14, 3
    group = len(series) * (bar + gap) + 12
    top = 30 if len(series) > 1 else 8
    height = int(top + group * len(labels) + 6)
    scale = (right - left) / top_value
    body = []
    for row, label in enumerate(labels):
        y0 = top + row * group
        body.append(_text(left - 8, y0 + group / 2 - 2, _clip(label, label_width), anchor="end"))
        for index, item in enumerate(series):
            y = y0 + index * (bar + gap)
            value = item.values[row]
            if value is None:
                body.append(_text(left + 4, y + bar - 3, "no data", extra='opacity="0.5"'))
                continue
            body.append(f'<rect x="{left}" y="{y:.1f}" width="{max(value * scale, 1):.1f}" height="{bar}" rx="2" '
                        f'fill="{item.color}"><title>{escape(label)} {escape(item.name)}: '
                        f"{escape(fmt(value))}</title></rect>")
            body.append(_text(left + min(value, top_value) * scale + 4, y + bar - 3, fmt(value)))
            target = targets[index] if index < len(targets) else None
            if target is not None:
                x = left + target * scale
                body.append(f'<line x1="{x:.1f}" y1="{y - 1:.1f}" x2="{x:.1f}" y2="{y + bar + 1:.1f}" '
                            f'stroke="currentColor" stroke-width="2" stroke-dasharray="3 2"/>')
    body.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{height - 4}" stroke="currentColor" '
                f'stroke-opacity="0.35"/>')
    if len(series) > 1:
        body += _legend(series, x=left, y=16)
    return _svg(height, body, title)


def _clip(label: str, width: int) -> str:
    limit = max(4, (width - 12) // 7)
    return label if len(label) <= limit else label[: limit - 1] + "…"
