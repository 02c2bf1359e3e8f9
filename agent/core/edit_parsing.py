"""Read a code model's answer into edit blocks (agent/core/edits.py applies them).

Two answer formats are accepted, even mixed in one answer:

- whole: a file path on its own line, then a fenced block with the complete new file content;
- diff: a file path line, then aider-style ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``
  blocks (several blocks may share one fence).

Parsing is forgiving about the ways local models slip (stray fences, decorated paths, CRLF...)
but it never turns a fragment into a file: a whole-file block whose closing fence is missing is
marked truncated, and a fence holding nothing but a file name only announces the next block.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

SEARCH_MARKER = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$", re.IGNORECASE)
DIVIDER_MARKER = re.compile(r"^\s*={5,9}\s*$")
CANONICAL_DIVIDER = "======="
REPLACE_MARKER = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$", re.IGNORECASE)
FENCE_LINE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")

LIST_PREFIX = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
COMMENT_PREFIX = re.compile(r"^(?:#+|//+|--|<!--|/\*+)\s*")
COMMENT_SUFFIX = re.compile(r"\s*(?:-->|\*+/)$")
PATH_LABEL = re.compile(r"^(?:file\s*name|file\s*path|file|path)\s*:\s*", re.IGNORECASE)
TRAILING_NOTE = re.compile(r"\s+\([^()]*\)$")
PATH_CHARACTERS = re.compile(r"^/?[\w@+.\-\[\]$]+(?:/[\w@+.\-\[\]$]+)*$")
BACKTICKED = re.compile(r"`([^`\s]+)`")
EXTENSIONLESS_NAMES = frozenset(
    {"Makefile", "Dockerfile", "Containerfile", "Procfile", "Gemfile", "Rakefile",
     "Jenkinsfile", "Vagrantfile", "Justfile", "LICENSE", "README"}
)
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
SHELL_LANGUAGES = frozenset(
    {"bash", "sh", "shell", "console", "zsh", "terminal", "powershell", "ps1", "cmd", "bat"}
)


@dataclass(frozen=True)
class EditBlock:
    path: str
    kind: Literal["whole", "diff"]
    search: str | None
    replace: str
    truncated: bool = False
    # Every other way to split a SEARCH/REPLACE block whose text holds divider-like lines of `=` signs (an
    # RST or Markdown heading underline): (search, replace) pairs, the divider further down each time. The
    # applier takes the last split whose SEARCH is in the file (agent/core/edits.py).
    other_splits: tuple[tuple[str, str], ...] = ()


def parse_edits(answer: str, *, known_paths: Collection[str] = ()) -> list[EditBlock]:
    """The edit blocks of `answer`; `known_paths` are names to take as paths even without an
    extension or a folder (the files at the repository root, the ticket's files)."""
    lines = split_lines(normalize_newlines(answer))
    return AnswerReader(lines, PathRule(frozenset(known_paths))).blocks()


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def join_lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def count_blank(lines: Iterable[str]) -> int:
    count = 0
    for line in lines:
        if line.strip():
            break
        count += 1
    return count


def is_bare_fence(line: str) -> bool:
    match = FENCE_LINE.match(line)
    return match is not None and not match["info"]


def find_fence_end(lines: list[str], *, start: int) -> int:
    """Index of the fence closing the one opened at `start`, or len(lines) when it is missing.

    A fence with an info string cannot close a block, so it opens a nested one: this keeps
    markdown files that contain ```python examples in one piece.
    """
    opening = FENCE_LINE.match(lines[start])
    assert opening is not None
    fence = opening["fence"]
    depth = 0
    for index in range(start + 1, len(lines)):
        match = FENCE_LINE.match(lines[index])
        if match is None or match["fence"][0] != fence[0]:
            continue
        if match["info"]:
            depth += 1
        elif depth:
            depth -= 1
        elif len(match["fence"]) >= len(fence):
            return index
    return len(lines)


def language_of(info: str) -> str:
    return re.split(r"[\s:{]", info.strip(), maxsplit=1)[0].lower() if info.strip() else ""


def looks_like_path(text: str) -> bool:
    if not text or len(text) > 300 or not PATH_CHARACTERS.match(text):
        return False
    name = PurePosixPath(text).name
    if not name.strip("."):
        return False
    return ("/" in text or bool(PurePosixPath(text).suffix) or name.startswith(".")
            or name in EXTENSIONLESS_NAMES)


def strip_path_decoration(line: str) -> str:
    text = line.strip()
    previous = None
    while text != previous:
        previous = text
        text = LIST_PREFIX.sub("", text)
        text = COMMENT_PREFIX.sub("", text)
        text = COMMENT_SUFFIX.sub("", text)
        text = PATH_LABEL.sub("", text)
        text = TRAILING_NOTE.sub("", text)
        text = text.strip().strip("*`'\"").rstrip(":").strip()
    return text.replace("\\_", "_").replace("\\", "/")


@dataclass(frozen=True)
class PathRule:
    """What counts as a file path: path-shaped text, or one of the names known to exist."""

    known: frozenset[str] = frozenset()

    def extract(self, line: str) -> str | None:
        """The file path if `line` is nothing but a (decorated) path: `x`, **x**, File: x, # x..."""
        text = strip_path_decoration(line)
        if looks_like_path(text) or (text in self.known and PATH_CHARACTERS.match(text)):
            return text
        return None

    def names_file(self, line: str) -> bool:
        """Stricter than extract: '3.11' or '.env' may be a file's whole content, 'app.py' is not."""
        path = self.extract(line)
        if path is None:
            return False
        pure = PurePosixPath(path)
        return ("/" in path or any(char.isalpha() for char in pure.suffix) or path in self.known
                or pure.name in EXTENSIONLESS_NAMES)

    def in_prose(self, line: str) -> str | None:
        """A sentence introducing a block ("Here is the new `app/x.py`:") names exactly one path."""
        if not line.rstrip().endswith(":"):
            return None
        candidates = {path for token in BACKTICKED.findall(line) if (path := self.extract(token))}
        return candidates.pop() if len(candidates) == 1 else None

    def from_fence_info(self, info: str) -> str | None:
        for token in re.split(r"[\s:]+", info.strip()):
            if "/" in token or "." in token:
                path = self.extract(token)
                if path:
                    return path
        return None


class AnswerReader:
    """One pass over the answer's lines, yielding whole-file and SEARCH/REPLACE blocks."""

    def __init__(self, lines: list[str], paths: PathRule) -> None:
        self.lines = lines
        self.paths = paths

    def blocks(self) -> list[EditBlock]:
        lines = self.lines
        blocks: list[EditBlock] = []
        current_path = ""
        index = 0
        while index < len(lines):
            if SEARCH_MARKER.match(lines[index]):
                current_path = self.diff_path(index) or current_path
                block, index = self.read_diff_block(start=index, path=current_path)
                blocks.append(block)
                if not block.truncated:
                    index = self.skip_closing_fences(index)
                continue
            if FENCE_LINE.match(lines[index]) is None:
                index += 1
                continue
            end = find_fence_end(lines, start=index)
            body = lines[index + 1:end]
            if any(SEARCH_MARKER.match(line) for line in body):
                index += 1  # the diff blocks inside are read line by line
                continue
            if not self.announces_next_block(body, end=end):
                whole = self.read_whole_block(start=index, body=body, closed=end < len(lines))
                if whole is not None:
                    blocks.append(whole)
            index = end + 1
        return blocks

    # ----------------------------------------------------------------------- diff blocks

    def diff_path(self, marker_index: int) -> str | None:
        """Look back from a SEARCH marker for the file path, through blank and fence lines and
        at most one sentence ("### app/x.py" / "Change the return:" / ```python / <<<<<<< SEARCH)."""
        seen_prose = False
        for index in range(marker_index - 1, max(-1, marker_index - 6), -1):
            line = self.lines[index]
            if not line.strip():
                continue
            if any(marker.match(line) for marker in (SEARCH_MARKER, DIVIDER_MARKER, REPLACE_MARKER)):
                return None
            fence = FENCE_LINE.match(line)
            if fence is not None:
                from_info = self.paths.from_fence_info(fence["info"])
                if from_info:
                    return from_info
                continue
            path = self.paths.extract(line) or (None if seen_prose else self.paths.in_prose(line))
            if path or seen_prose:
                return path
            seen_prose = True
        return None

    def read_diff_block(self, *, start: int, path: str) -> tuple[EditBlock, int]:
        body, index, complete = self.collect_until(start=start + 1, stop=REPLACE_MARKER, abort=(SEARCH_MARKER,))
        dividers = [number for number, line in enumerate(body) if DIVIDER_MARKER.match(line)]
        if not dividers:  # no divider before the REPLACE marker (or the answer's end): not a whole block
            return EditBlock(path=path, kind="diff", search=join_lines(body), replace="", truncated=True), index
        # The divider the model was taught is exactly seven `=`; where one is there, other `=` lines (a
        # heading's underline) are content. Several candidates stay possible splits for the applier.
        taught = [number for number in dividers if body[number].strip() == CANONICAL_DIVIDER]
        splits = [(join_lines(body[:divider]), join_lines(body[divider + 1:])) for divider in taught or dividers]
        (search, replace), others = splits[0], tuple(splits[1:])
        block = EditBlock(path=path, kind="diff", search=search, replace=replace, truncated=not complete,
                          other_splits=others)
        return block, index + 1 if complete else index

    def collect_until(self, *, start: int, stop: re.Pattern[str],
                      abort: tuple[re.Pattern[str], ...]) -> tuple[list[str], int, bool]:
        """Lines from `start` up to the `stop` marker; incomplete when the answer ends or another
        block starts first (its marker is left for the caller)."""
        collected: list[str] = []
        for index in range(start, len(self.lines)):
            line = self.lines[index]
            if stop.match(line):
                return collected, index, True
            if any(pattern.match(line) for pattern in abort):
                return collected, index, False
            collected.append(line)
        return collected, len(self.lines), False

    def skip_closing_fences(self, index: int) -> int:
        probe = index
        while probe < len(self.lines):
            if not self.lines[probe].strip():
                probe += 1
            elif is_bare_fence(self.lines[probe]):
                probe += 1
                index = probe
            else:
                break
        return index

    # ----------------------------------------------------------------------- whole-file blocks

    def announces_next_block(self, body: list[str], *, end: int) -> bool:
        """A fence holding only a file name, right before another fence or a SEARCH marker,
        names the file of that block; it is never the content of a file."""
        text = [line for line in body if line.strip()]
        if len(text) != 1 or not self.paths.names_file(text[0]):
            return False
        following = self.next_text_line(end + 1)
        return following is not None and bool(
            FENCE_LINE.match(following) or SEARCH_MARKER.match(following))

    def next_text_line(self, start: int) -> str | None:
        return next((line for line in self.lines[start:] if line.strip()), None)

    def read_whole_block(self, *, start: int, body: list[str], closed: bool) -> EditBlock | None:
        opening = FENCE_LINE.match(self.lines[start])
        assert opening is not None
        path = self.path_before_fence(start)
        if path is None and language_of(opening["info"]) not in SHELL_LANGUAGES:
            path = self.path_in_prose_before_fence(start)
        path = path or self.paths.from_fence_info(opening["info"])
        if not closed:
            body = body[:len(body) - count_blank(reversed(body))]  # drop the tail gap
            closed = is_doubled_opening(body)
        if path is None and body:
            path = self.paths.extract(body[0])
            if path is not None and len(body) == 1:
                return None  # a fenced path line only announces the file of the next block
            if path is not None:
                body = body[1:]  # that first line named the file; it is not part of the content
        if path is None:
            return None
        if PurePosixPath(path).suffix.lower() not in MARKDOWN_SUFFIXES:
            body = unwrap_extra_fence(body)  # a markdown file may legitimately be one code block
        return EditBlock(path=path, kind="whole", search=None, replace=join_lines(body),
                         truncated=not closed)

    def previous_text_line(self, start: int) -> str | None:
        for index in range(start - 1, max(-1, start - 3), -1):
            if self.lines[index].strip():
                return self.lines[index]
        return None

    def path_before_fence(self, start: int) -> str | None:
        line = self.previous_text_line(start)
        if line is None:
            return None
        if FENCE_LINE.match(line):
            return self.path_in_own_fence(start)
        return self.paths.extract(line)

    def path_in_own_fence(self, start: int) -> str | None:
        """Some models fence the path line itself: ```\napp/x.py\n```\n```python\n..."""
        lines = self.lines
        if start < 3 or not is_bare_fence(lines[start - 1]) or not FENCE_LINE.match(lines[start - 3]):
            return None
        # names_file, not extract: a fenced "3.11" is the content of .python-version, not a path.
        return self.paths.extract(lines[start - 2]) if self.paths.names_file(lines[start - 2]) else None

    def path_in_prose_before_fence(self, start: int) -> str | None:
        line = self.previous_text_line(start)
        if line is None or FENCE_LINE.match(line):
            return None
        return self.paths.in_prose(line)


def is_doubled_opening(body: list[str]) -> bool:
    """```\n```python\n...\n``` : the model opened twice and closed once; the inner block is whole."""
    return (len(body) >= 2 and FENCE_LINE.match(body[0]) is not None
            and find_fence_end(body, start=0) == len(body) - 1)


def unwrap_extra_fence(body: list[str]) -> list[str]:
    if len(body) >= 2 and FENCE_LINE.match(body[0]) and is_bare_fence(body[-1]):
        return body[1:-1]
    if body and FENCE_LINE.match(body[0]) and find_fence_end(body, start=0) == len(body):
        return body[1:]
    return body
