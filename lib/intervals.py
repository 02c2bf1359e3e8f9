"""Busy time: how long a set of possibly overlapping intervals covers, and that as a fraction of the wall time.

A model host answering two requests at once (OLLAMA_NUM_PARALLEL) is busy once,
not twice: the busy fraction is the union of its requests' intervals over the
wall time, never above 1.
"""
from collections.abc import Iterable

Interval = tuple[float, float]  # (start, end), in seconds of any one clock


def covered(intervals: Iterable[Interval]) -> float:
    """Seconds covered by the union of the intervals."""
    total = 0.0
    current: tuple[float, float] | None = None  # the union's piece being grown
    for start, end in sorted((start, end) for start, end in intervals if end > start):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += current[1] - current[0]
    return total


def clipped(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    low, high = window
    return [(max(start, low), min(end, high)) for start, end in intervals if end > low and start < high]


def busy_fraction(busy: Iterable[Interval], wall: Iterable[Interval]) -> float | None:
    """The busy intervals' union, within the wall intervals, over the wall intervals' union; None without wall time.

    Only the busy time inside the wall counts: a request from before the window
    (or from a run not counted) cannot push the fraction above 1.
    """
    busy, wall = list(busy), list(wall)
    wall_seconds = covered(wall)
    if wall_seconds <= 0:
        return None
    inside = [piece for window in wall for piece in clipped(busy, window)]
    return round(min(covered(inside) / wall_seconds, 1.0), 4)
