"""A file to modify too big for the model's context, sent as its outline (agent.core.codemap.outline)
plus windows of lines around what the ticket, its tests and the last failure point at.

What is pointed at, most telling first: lines of the file that the last failure's traceback names
(`File ".../calc.py", line 812` or `calc.py:812:`), the definitions of the names the ticket and its
required tests mention, the definitions the last failure names, then the lines where names written
like code (`snake_case`, `camelCase`, or between backticks) occur. The file's head (its imports) is always shown. Deterministic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.core.codemap.outline import Definition, definitions, render_outline

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BACKTICKED = re.compile(r"`([^`\n]{1,80})`")
CODE_LIKE = re.compile(r"^(?:[a-z0-9]+_[a-z0-9_]+|_+[A-Za-z0-9_]+|[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z]\w*)$")
MAX_OCCURRENCES_PER_WORD = 3
MAX_FOCUS_POINTS = 24
MAX_SCANNED_WORDS = 30


@dataclass(frozen=True)
class Level:
    """How much of a windowed file is shown; prompting tries them richest first."""

    outline: str  # "full", "names" or "top" (agent.core.codemap.outline.render_outline)
    context: int  # lines shown either side of a pointed-at line
    span: int  # at most this many lines of a pointed-at definition
    head: int  # the file's first lines (imports)


# A full outline of a 10k-line module alone is about 30k tokens: names go before the windows shrink.
LEVELS = (Level("full", 120, 600, 60), Level("full", 40, 250, 40), Level("names", 40, 250, 40),
          Level("names", 20, 120, 30), Level("top", 12, 60, 20), Level("top", 5, 25, 12))
MINIMAL = LEVELS[-1]


@dataclass(frozen=True)
class Focus:
    """What the windows are placed around: the ticket's words and the last failure's text."""

    words: tuple[str, ...]
    failure: str = ""
    # Names in the last failure (a traceback's `in parse`, a SEARCH that did not match): their definitions only.
    failure_words: tuple[str, ...] = ()


def focus_for(*, texts: list[str], tests: list[str], failure: str) -> Focus:
    """Names from the ticket's texts and from its required tests (`tests/test_x.py::TestK::test_y[1]`)."""
    words: list[str] = []
    for entry in tests:
        for word in WORD.findall(entry.split("::", 1)[1] if "::" in entry else ""):
            words += [word, word.removeprefix("test_"), word.removeprefix("Test")]  # test_parse tests parse
    for text in texts:
        words += [word for quoted in BACKTICKED.findall(text) for word in WORD.findall(quoted)]
        words += WORD.findall(text)
    return Focus(words=tuple(dict.fromkeys(word for word in words if len(word) > 2)), failure=failure,
                 failure_words=tuple(dict.fromkeys(WORD.findall(failure[-20000:]))))


def failure_lines(path: str, failure: str) -> list[int]:
    """Line numbers of `path` named by a traceback or a `path:line` reference in `failure`."""
    pattern = re.compile(r"(?:^|[\s\"'(/])" + re.escape(path) + r"\"?(?:, line |:)(\d+)", re.MULTILINE)
    return [int(number) for number in pattern.findall(failure)]


@lru_cache(maxsize=16)  # the same for every level prompting tries
def focus_points(path: str, text: str, found: tuple[Definition, ...], focus: Focus) -> list[tuple[int, int]]:
    """(first, last) line spans to show, most telling first."""
    lines = text.split("\n")
    points = [(line, line) for line in failure_lines(path, focus.failure) if 1 <= line <= len(lines)]
    by_name: dict[str, list[Definition]] = {}
    for item in found:
        by_name.setdefault(item.name, []).append(item)
    points += [(item.line, item.end) for word in focus.words for item in by_name.get(word, [])]
    points += [(item.line, item.end) for word in focus.failure_words[:200] for item in by_name.get(word, [])]
    scanned = [word for word in focus.words if word not in by_name and CODE_LIKE.match(word)]
    for word in scanned[:MAX_SCANNED_WORDS]:  # a long description must not scan a 10k-line file 500 times
        pattern = re.compile(rf"\b{re.escape(word)}\b")
        hits = [number for number, line in enumerate(lines, start=1) if pattern.search(line)]
        points += [(number, number) for number in hits[:MAX_OCCURRENCES_PER_WORD]]
    return list(dict.fromkeys(points))[:MAX_FOCUS_POINTS]


def windows(spans: list[tuple[int, int]], *, level: Level, total: int) -> list[tuple[int, int]]:
    """Merged (first, last) windows: each span capped to level.span lines, with level.context around it."""
    ranges = [(1, min(total, level.head))]
    for first, last in spans:
        last = min(last, first + level.span - 1)
        ranges.append((max(1, first - level.context), min(total, last + level.context)))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


@dataclass(frozen=True)
class Windowed:
    path: str
    text: str  # the rendered block for the prompt
    ranges: list[tuple[int, int]]
    window_chars: int  # of the windows alone: what a SEARCH/REPLACE answer may repeat


def windowed_file(path: str, text: str, *, focus: Focus, level: Level, fence_language: str) -> Windowed:
    found = definitions(path, text)
    lines = text.split("\n")
    total = len(lines) - (1 if text.endswith("\n") else 0)
    ranges = windows(focus_points(path, text, found, focus), level=level, total=total)
    fence = "````" if "```" in text else "```"
    parts = [f"{path}\n({total} lines: too big for the model's context, so shown as an outline of its definitions "
             "and windows of its lines. Edit this file ONLY with SEARCH/REPLACE blocks whose SEARCH lines are "
             "copied exactly from a window below; never answer with the whole file.)"]
    outline = render_outline(found, detail=level.outline)
    if outline:
        parts.append(f"Outline of {path} (line: definition):\n{outline}")
    bodies = ["\n".join(lines[first - 1:last]) for first, last in ranges]
    parts += [f"Lines {first}-{last} of {path}:\n{fence}{fence_language}\n{body}\n{fence}"
              for (first, last), body in zip(ranges, bodies, strict=True)]
    return Windowed(path=path, text="\n\n".join(parts), ranges=ranges,
                    window_chars=sum(len(body) for body in bodies))


def describe(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{first}-{last}" for first, last in ranges)
