"""Find where a SEARCH text sits in a file, exactly once, and explain precisely when it does not.

A match ignores trailing whitespace and a uniform indentation shift (the REPLACE lines are
re-indented the same way); several matches or none fail with the nearest numbered lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from agent.core.edit_parsing import count_blank

NEAREST_CONTEXT_LINES = 2
NEAREST_MAX_LINES = 10
NEAREST_MIN_LINES = 5
NEAREST_CANDIDATES = 12


class EditError(Exception):
    """One block could not be applied; the message is shown to the model on the next attempt."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def replace_unique(*, file_lines: list[str], search: list[str], replace: list[str],
                   relative: str) -> list[str]:
    for variant_search, variant_replace in search_variants(search, replace):
        exact = exact_matches(file_lines, variant_search)
        if len(exact) == 1:
            return splice(file_lines, exact[0], len(variant_search), variant_replace)
        if len(exact) > 1:
            raise EditError(relative, ambiguous_reason(relative, exact))
        shifted = shifted_matches(file_lines, variant_search)
        if len(shifted) == 1:
            start, shift = shifted[0]
            return splice(file_lines, start, len(variant_search),
                          reindent(variant_replace, shift))
        if len(shifted) > 1:
            raise EditError(relative, ambiguous_reason(relative, [start for start, _ in shifted]))
    raise EditError(relative, not_found_reason(relative=relative, file_lines=file_lines,
                                               search=search, replace=replace))


def search_variants(search: list[str],
                    replace: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    yield search, replace
    leading = count_blank(search)
    trailing = count_blank(reversed(search))
    if (leading or trailing) and leading < len(search):
        replace_leading = min(leading, count_blank(replace))
        trimmed_replace = replace[replace_leading:]
        replace_trailing = min(trailing, count_blank(reversed(trimmed_replace)))
        yield (search[leading:len(search) - trailing],
               trimmed_replace[:len(trimmed_replace) - replace_trailing])


def splice(lines: list[str], start: int, length: int, replacement: list[str]) -> list[str]:
    return lines[:start] + replacement + lines[start + length:]


def exact_matches(file_lines: list[str], search: list[str]) -> list[int]:
    """Start indexes where SEARCH matches, ignoring trailing whitespace."""
    wanted = [line.rstrip() for line in search]
    stripped = [line.rstrip() for line in file_lines]
    size = len(wanted)
    return [start for start in range(len(stripped) - size + 1)
            if stripped[start] == wanted[0] and stripped[start:start + size] == wanted]


Shift = tuple[str, str]  # (indent to add, indent to remove)


def shifted_matches(file_lines: list[str], search: list[str]) -> list[tuple[int, Shift]]:
    size = len(search)
    matches = []
    for start in range(len(file_lines) - size + 1):
        shift = uniform_shift(file_lines[start:start + size], search)
        if shift is not None:
            matches.append((start, shift))
    return matches


def uniform_shift(window: list[str], search: list[str]) -> Shift | None:
    shifts = set()
    for file_line, search_line in zip(window, search, strict=True):
        if not file_line.strip() or not search_line.strip():
            if file_line.strip() or search_line.strip():
                return None
            continue
        if file_line.strip() != search_line.strip():
            return None
        shift = line_shift(indent_of(file_line), indent_of(search_line))
        if shift is None:
            return None
        shifts.add(shift)
    return shifts.pop() if len(shifts) == 1 else None


def indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def line_shift(file_indent: str, search_indent: str) -> Shift | None:
    if file_indent.endswith(search_indent):
        return file_indent[:len(file_indent) - len(search_indent)], ""
    if search_indent.endswith(file_indent):
        return "", search_indent[:len(search_indent) - len(file_indent)]
    return None


def reindent(lines: list[str], shift: Shift) -> list[str]:
    add, remove = shift
    result = []
    for line in lines:
        if not line.strip():
            result.append("")
        elif remove:
            result.append(line[len(remove):] if line.startswith(remove) else line.lstrip())
        else:
            result.append(add + line)
    return result


def ambiguous_reason(relative: str, starts: list[int]) -> str:
    where = ", ".join(str(start + 1) for start in starts[:5])
    return (
        f"The SEARCH lines for {relative} match {len(starts)} places (starting at lines {where}); "
        "they must match exactly one place. Add more surrounding lines to SEARCH to make it unique."
    )


def not_found_reason(*, relative: str, file_lines: list[str], search: list[str],
                     replace: list[str]) -> str:
    first = next((line.strip() for line in search if line.strip()), "")
    reason = (
        f"The SEARCH lines for {relative} were not found (SEARCH starts with {first!r}). "
        "SEARCH must copy the current lines exactly, including indentation, comments and blank "
        "lines."
    )
    if not file_lines:
        return reason + f" {relative} is empty."
    start, end = nearest_window(file_lines, search)
    numbered = "\n".join(f"{number + 1:>5} | {file_lines[number]}" for number in range(start, end))
    reason += f"\nThe most similar lines of {relative} are (line numbers added):\n{numbered}"
    if replace and exact_matches(file_lines, replace):
        reason += f"\nNote: the REPLACE lines are already in {relative}; this edit may already be applied."
    return reason


def nearest_window(file_lines: list[str], search: list[str]) -> tuple[int, int]:
    """Line range (start, end) to show: the window most similar to SEARCH, with context."""
    size = max(1, min(len(search), len(file_lines)))
    best_start = most_similar_start(file_lines, search, size=size)
    start = max(0, best_start - NEAREST_CONTEXT_LINES)
    end = min(len(file_lines), best_start + size + NEAREST_CONTEXT_LINES,
              start + NEAREST_MAX_LINES)
    end = min(len(file_lines), max(end, start + NEAREST_MIN_LINES))
    return start, end


def most_similar_start(file_lines: list[str], search: list[str], *, size: int) -> int:
    # quick_ratio is a cheap upper bound: only the best few windows get the exact ratio.
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2("\n".join(line.strip() for line in search))
    windows = ["\n".join(line.strip() for line in file_lines[start:start + size])
               for start in range(len(file_lines) - size + 1)]
    quick = []
    for start, window in enumerate(windows):
        matcher.set_seq1(window)
        quick.append((-matcher.quick_ratio(), start))
    candidates = [start for _, start in sorted(quick)[:NEAREST_CANDIDATES]]
    return max(candidates, key=lambda start: (ratio_of(matcher, windows[start]), -start))


def ratio_of(matcher: difflib.SequenceMatcher[str], window: str) -> float:
    matcher.set_seq1(window)
    return matcher.ratio()
