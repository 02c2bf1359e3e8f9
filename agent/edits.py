"""Parse a code model's answer into file edits and apply them to a working tree.

Two answer formats are accepted, even mixed in one answer:

- whole: a file path on its own line, then a fenced block with the complete new file content;
- diff: a file path line, then aider-style ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``
  blocks (several blocks may share one fence).

Parsing is forgiving about the ways local models slip (stray fences, decorated paths, CRLF,
shifted indentation...) but applying never guesses: a SEARCH text must be found exactly once.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

EditFormat = Literal["whole", "diff"]

AUTO_WHOLE_MAX_LINES = 400

SEARCH_MARKER = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$", re.IGNORECASE)
DIVIDER_MARKER = re.compile(r"^\s*={5,9}\s*$")
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
SKIPPED_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache"}
)
NEAREST_CONTEXT_LINES = 2
NEAREST_MAX_LINES = 10
NEAREST_MIN_LINES = 5
NEAREST_CANDIDATES = 12


@dataclass(frozen=True)
class EditBlock:
    path: str
    kind: Literal["whole", "diff"]
    search: str | None
    replace: str
    truncated: bool = False


@dataclass
class EditFailure:
    path: str
    reason: str


@dataclass
class ApplyResult:
    applied: list[str]
    failed: list[EditFailure]

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.applied)

    def to_dict(self) -> dict:
        return {
            "applied": list(self.applied),
            "failed": [{"path": failure.path, "reason": failure.reason} for failure in self.failed],
        }


class EditError(Exception):
    """One block could not be applied; the message is shown to the model on the next attempt."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------- format choice


def choose_format(*, setting: str, line_counts: list[int]) -> EditFormat:
    normalized = setting.strip().lower()
    if normalized in ("whole", "diff"):
        return normalized  # type: ignore[return-value]
    if normalized != "auto":
        raise ValueError(f"Unknown edit format setting {setting!r}: use 'whole', 'diff' or 'auto'.")
    if all(count < AUTO_WHOLE_MAX_LINES for count in line_counts):
        return "whole"
    return "diff"


WHOLE_INSTRUCTIONS = """\
Answer with the complete new content of every file you change or create.
For each file write its path, relative to the repository root, alone on one line, then a fenced
code block holding the WHOLE file: every line, not only the changed ones. Never write "...",
"rest of the file unchanged" or similar placeholders. Put nothing else inside the fence and do
not repeat files you do not change.

Example:

app/greeting.py
```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```
"""

DIFF_INSTRUCTIONS = """\
Answer with SEARCH/REPLACE blocks. For each change write the file path, relative to the
repository root, alone on one line, then a fenced block like this:

app/greeting.py
```python
<<<<<<< SEARCH
def greet(name):
    return "Hello " + name
=======
def greet(name: str) -> str:
    return f"Hello, {name}!"
>>>>>>> REPLACE
```

Rules:
- The SEARCH lines must be copied exactly from the current file (same indentation, comments and
  blank lines) and must match one place only: add a few surrounding lines if needed.
- Keep each block small; several blocks for the same file may follow each other in one fence.
- To create a new file, leave the SEARCH section empty and put the whole content in REPLACE.
- To delete lines, leave the REPLACE section empty.
"""


def format_instructions(edit_format: EditFormat) -> str:
    if edit_format == "whole":
        return WHOLE_INSTRUCTIONS
    if edit_format == "diff":
        return DIFF_INSTRUCTIONS
    raise ValueError(f"Unknown edit format {edit_format!r}: use 'whole' or 'diff'.")


# --------------------------------------------------------------------------- parsing


def parse_edits(answer: str) -> list[EditBlock]:
    lines = split_lines(normalize_newlines(answer))
    blocks: list[EditBlock] = []
    current_path = ""
    index = 0
    while index < len(lines):
        if SEARCH_MARKER.match(lines[index]):
            current_path = find_diff_path(lines, index) or current_path
            block, index = read_diff_block(lines, start=index, path=current_path)
            blocks.append(block)
            if not block.truncated:
                index = skip_closing_fences(lines, index)
            continue
        opening = FENCE_LINE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = find_fence_end(lines, start=index)
        body = lines[index + 1:end]
        if end == len(lines):
            body = body[:len(body) - count_blank(reversed(body))]  # unclosed: drop the tail gap
        if any(SEARCH_MARKER.match(line) for line in body):
            index += 1  # the diff blocks inside are read line by line
            continue
        whole = read_whole_block(lines, start=index, body=body)
        if whole is not None:
            blocks.append(whole)
        index = end + 1
    return blocks


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def join_lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


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


def skip_closing_fences(lines: list[str], index: int) -> int:
    probe = index
    while probe < len(lines):
        if not lines[probe].strip():
            probe += 1
        elif is_bare_fence(lines[probe]):
            probe += 1
            index = probe
        else:
            break
    return index


def find_diff_path(lines: list[str], marker_index: int) -> str | None:
    """Look back from a SEARCH marker for the file path, through blank and fence lines and at
    most one sentence ("### app/x.py" / "Change the return:" / ```python / <<<<<<< SEARCH)."""
    seen_prose = False
    for index in range(marker_index - 1, max(-1, marker_index - 6), -1):
        line = lines[index]
        if not line.strip():
            continue
        if any(marker.match(line) for marker in (SEARCH_MARKER, DIVIDER_MARKER, REPLACE_MARKER)):
            return None
        fence = FENCE_LINE.match(line)
        if fence is not None:
            from_info = path_from_fence_info(fence["info"])
            if from_info:
                return from_info
            continue
        path = extract_path(line) or (None if seen_prose else path_in_prose(line))
        if path or seen_prose:
            return path
        seen_prose = True
    return None


def read_diff_block(lines: list[str], *, start: int, path: str) -> tuple[EditBlock, int]:
    search, index, complete = collect_until(lines, start=start + 1, stop=DIVIDER_MARKER,
                                            abort=(SEARCH_MARKER, REPLACE_MARKER))
    if not complete:
        return EditBlock(path=path, kind="diff", search=join_lines(search), replace="",
                         truncated=True), index
    replace, index, complete = collect_until(lines, start=index + 1, stop=REPLACE_MARKER,
                                             abort=(SEARCH_MARKER,))
    block = EditBlock(path=path, kind="diff", search=join_lines(search),
                      replace=join_lines(replace), truncated=not complete)
    return block, index + 1 if complete else index


def collect_until(lines: list[str], *, start: int, stop: re.Pattern,
                  abort: tuple[re.Pattern, ...]) -> tuple[list[str], int, bool]:
    """Lines from `start` up to the `stop` marker; incomplete when the answer ends or another
    block starts first (its marker is left for the caller)."""
    collected: list[str] = []
    for index in range(start, len(lines)):
        line = lines[index]
        if stop.match(line):
            return collected, index, True
        if any(pattern.match(line) for pattern in abort):
            return collected, index, False
        collected.append(line)
    return collected, len(lines), False


def read_whole_block(lines: list[str], *, start: int, body: list[str]) -> EditBlock | None:
    opening = FENCE_LINE.match(lines[start])
    assert opening is not None
    path = path_before_fence(lines, start)
    if path is None and language_of(opening["info"]) not in SHELL_LANGUAGES:
        path = path_in_prose_before_fence(lines, start)
    path = path or path_from_fence_info(opening["info"])
    if path is None and body:
        path = extract_path(body[0])
        if path is not None and len(body) == 1:
            return None  # a fenced path line only announces the file of the next block
        if path is not None:
            body = body[1:]  # that first line named the file; it is not part of the content
    if path is None:
        return None
    if PurePosixPath(path).suffix.lower() not in MARKDOWN_SUFFIXES:
        body = unwrap_extra_fence(body)  # a markdown file may legitimately be one code block
    return EditBlock(path=path, kind="whole", search=None, replace=join_lines(body))


def unwrap_extra_fence(body: list[str]) -> list[str]:
    if len(body) >= 2 and FENCE_LINE.match(body[0]) and is_bare_fence(body[-1]):
        return body[1:-1]
    if body and FENCE_LINE.match(body[0]) and find_fence_end(body, start=0) == len(body):
        return body[1:]
    return body


def previous_text_line(lines: list[str], start: int) -> str | None:
    for index in range(start - 1, max(-1, start - 3), -1):
        if lines[index].strip():
            return lines[index]
    return None


def path_before_fence(lines: list[str], start: int) -> str | None:
    line = previous_text_line(lines, start)
    if line is None:
        return None
    if FENCE_LINE.match(line):
        return path_in_own_fence(lines, start)
    return extract_path(line)


def path_in_own_fence(lines: list[str], start: int) -> str | None:
    """Some models fence the path line itself: ```\napp/x.py\n```\n```python\n..."""
    if start < 3 or not is_bare_fence(lines[start - 1]) or not FENCE_LINE.match(lines[start - 3]):
        return None
    return extract_path(lines[start - 2])


def path_in_prose_before_fence(lines: list[str], start: int) -> str | None:
    line = previous_text_line(lines, start)
    if line is None or FENCE_LINE.match(line):
        return None
    return path_in_prose(line)


def language_of(info: str) -> str:
    return re.split(r"[\s:{]", info.strip(), maxsplit=1)[0].lower() if info.strip() else ""


def path_from_fence_info(info: str) -> str | None:
    for token in re.split(r"[\s:]+", info.strip()):
        if "/" in token or "." in token:
            path = extract_path(token)
            if path:
                return path
    return None


def extract_path(line: str) -> str | None:
    """The file path if `line` is nothing but a (decorated) path: `x`, **x**, File: x, # x..."""
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
    text = text.replace("\\_", "_").replace("\\", "/")
    return text if looks_like_path(text) else None


def path_in_prose(line: str) -> str | None:
    """A sentence introducing a block ("Here is the new `app/x.py`:") names exactly one path."""
    if not line.rstrip().endswith(":"):
        return None
    candidates = {path for token in BACKTICKED.findall(line) if (path := extract_path(token))}
    return candidates.pop() if len(candidates) == 1 else None


def looks_like_path(text: str) -> bool:
    if not text or len(text) > 300 or not PATH_CHARACTERS.match(text):
        return False
    name = PurePosixPath(text).name
    if not name.strip("."):
        return False
    return ("/" in text or bool(PurePosixPath(text).suffix) or name.startswith(".")
            or name in EXTENSIONLESS_NAMES)


# --------------------------------------------------------------------------- applying


NO_BLOCKS_REASON = (
    "No edit blocks were found in the answer. Expected either the whole-file format (the file "
    "path alone on a line, then a fenced block with the complete file content) or the diff format "
    "(the file path alone on a line, then a fenced block with <<<<<<< SEARCH, the exact current "
    "lines, =======, the new lines, >>>>>>> REPLACE)."
)
PATHLESS_FENCE_HINT = (
    " The answer has fenced code but no file path line right before it, so it is not known "
    "which file the code belongs to."
)
UNCHANGED_REASON = "The edit blocks were understood but none of them changed any file."


def apply_edits(*, root: Path, answer: str) -> ApplyResult:
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"Worktree root {root} does not exist or is not a directory.")
    blocks = parse_edits(answer)
    if not blocks:
        return ApplyResult(applied=[], failed=[EditFailure(path="", reason=no_blocks_reason(answer))])
    tree = TreeFiles(root)
    applied: list[str] = []
    failed: list[EditFailure] = []
    for block in blocks:
        try:
            changed = apply_block(root=root, block=block, tree=tree)
        except EditError as error:
            failed.append(EditFailure(path=error.path, reason=error.reason))
            continue
        if changed and changed not in applied:
            applied.append(changed)
    if not applied and not failed:
        failed.append(EditFailure(path="", reason=UNCHANGED_REASON))
    return ApplyResult(applied=applied, failed=failed)


def no_blocks_reason(answer: str) -> str:
    lines = normalize_newlines(answer).split("\n")
    has_fence = any(FENCE_LINE.match(line) for line in lines)
    return NO_BLOCKS_REASON + (PATHLESS_FENCE_HINT if has_fence else "")


class TreeFiles:
    """Relative paths of the files in the worktree, listed once, for unique-suffix lookups."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: list[str] | None = None

    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = list(walk_files(self.root))
        return self._paths

    def add(self, relative: str) -> None:
        if self._paths is not None and relative not in self._paths:
            self._paths.append(relative)

    def suffix_matches(self, relative: str) -> list[str]:
        return sorted(path for path in self.paths() if path.endswith("/" + relative))


def walk_files(root: Path) -> Iterator[str]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if name not in SKIPPED_DIRS]
        base = Path(directory).relative_to(root)
        for name in filenames:
            yield (base / name).as_posix()


def apply_block(*, root: Path, block: EditBlock, tree: TreeFiles) -> str | None:
    """Apply one block; return the relative path it changed, None when it changed nothing."""
    if block.truncated:
        raise EditError(block.path, truncated_reason(block.path))
    relative = clean_relative_path(block.path)
    creating = block.kind == "diff" and not (block.search or "").strip()
    if not creating:
        relative = resolve_existing(relative=relative, tree=tree, strict=block.kind == "diff")
    target = checked_target(root=root, relative=relative)
    if block.kind == "whole":
        changed = write_whole(target=target, relative=relative, content=block.replace)
    elif creating:
        changed = create_from_diff(target=target, relative=relative, content=block.replace)
    else:
        changed = replace_in_file(target=target, relative=relative, block=block)
    tree.add(relative)
    return relative if changed else None


def truncated_reason(path: str) -> str:
    where = f"for {path} " if path else ""
    return (
        f"The SEARCH/REPLACE block {where}is incomplete: it has no '=======' or no "
        "'>>>>>>> REPLACE' line (the answer was cut off or another block started). It was not "
        "applied; send the complete block again."
    )


def clean_relative_path(raw: str) -> str:
    text = raw.strip().replace("\\", "/")
    if not text:
        raise EditError("", "An edit block has no file path: write the path alone on the line "
                            "right before the fenced block.")
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:/", text):
        raise EditError(raw, f"Refused {raw}: absolute paths are not allowed; use a path "
                             "relative to the repository root.")
    parts = PurePosixPath(text).parts
    if ".." in parts:
        raise EditError(raw, f"Refused {raw}: '..' is not allowed in paths; use a path inside "
                             "the repository.")
    if any(part.lower() == ".git" for part in parts):
        raise EditError(raw, f"Refused {raw}: files under .git/ must never be edited.")
    if not parts:
        raise EditError(raw, f"Refused {raw!r}: it does not name a file.")
    return PurePosixPath(*parts).as_posix()


def resolve_existing(*, relative: str, tree: TreeFiles, strict: bool) -> str:
    """The existing file meant by `relative`, allowing a unique path suffix.

    With strict=False (whole-file blocks) an unknown or ambiguous path is kept as a new file.
    """
    if os.path.lexists(tree.root / relative):
        return relative
    matches = tree.suffix_matches(relative)
    if len(matches) == 1:
        return matches[0]
    if not strict:
        return relative
    if matches:
        raise EditError(relative, f"{relative} is ambiguous: it matches {', '.join(matches)}. "
                                  "Write the full path from the repository root.")
    raise EditError(relative, f"{relative} does not exist, so its SEARCH lines cannot be found. "
                              "Check the path; to create a new file leave SEARCH empty.")


def checked_target(*, root: Path, relative: str) -> Path:
    target = root / relative
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        raise EditError(relative, f"Refused {relative}: it resolves outside the repository "
                                  "through a symbolic link.")
    if any(part.lower() == ".git" for part in resolved.relative_to(root).parts):
        raise EditError(relative, f"Refused {relative}: it points into .git/, which must never "
                                  "be edited.")
    if resolved.is_dir():
        raise EditError(relative, f"{relative} is a directory, not a file.")
    return target


@dataclass
class TextFile:
    text: str
    newline: str
    bom: bool


def read_text_file(target: Path, relative: str) -> TextFile:
    raw = target.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(relative, f"{relative} is not UTF-8 text and cannot be edited.") from None
    bom = text.startswith("\ufeff")
    crlf = text.count("\r\n")
    newline = "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"
    return TextFile(text=normalize_newlines(text.removeprefix("\ufeff")), newline=newline, bom=bom)


def write_text_file(*, target: Path, relative: str, text: str, newline: str = "\n",
                    bom: bool = False) -> None:
    if text and not text.endswith("\n"):
        text += "\n"
    data = ("\ufeff" if bom else "") + text.replace("\n", newline)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode("utf-8"))
    except OSError as error:
        raise EditError(relative, f"Could not write {relative}: {error.strerror or error}.") from None


def with_trailing_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def write_whole(*, target: Path, relative: str, content: str) -> bool:
    content = with_trailing_newline(content)
    if not target.exists():
        write_text_file(target=target, relative=relative, text=content)
        return True
    current = read_text_file(target, relative)
    if not content.strip() and current.text.strip():
        raise EditError(relative, f"The whole-file block for {relative} is empty; it would erase "
                                  "the file. Send the complete file content.")
    if content == with_trailing_newline(current.text):
        return False
    write_text_file(target=target, relative=relative, text=content, newline=current.newline,
                    bom=current.bom)
    return True


def create_from_diff(*, target: Path, relative: str, content: str) -> bool:
    if not target.exists():
        write_text_file(target=target, relative=relative, text=content)
        return True
    current = read_text_file(target, relative)
    if current.text.strip():
        raise EditError(relative, f"{relative} already exists and is not empty, so an empty "
                                  "SEARCH section cannot be used. Copy the lines to change into "
                                  "SEARCH.")
    write_text_file(target=target, relative=relative, text=content, newline=current.newline,
                    bom=current.bom)
    return bool(content)


def replace_in_file(*, target: Path, relative: str, block: EditBlock) -> bool:
    current = read_text_file(target, relative)
    file_lines = split_lines(current.text)
    new_lines = replace_unique(file_lines=file_lines, search=split_lines(block.search or ""),
                               replace=split_lines(block.replace), relative=relative)
    if new_lines == file_lines:
        return False
    write_text_file(target=target, relative=relative, text=join_lines(new_lines),
                    newline=current.newline, bom=current.bom)
    return True


# --------------------------------------------------------------------------- locating SEARCH


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


def count_blank(lines: Iterable[str]) -> int:
    count = 0
    for line in lines:
        if line.strip():
            break
        count += 1
    return count


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
    for file_line, search_line in zip(window, search):
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


def ratio_of(matcher: difflib.SequenceMatcher, window: str) -> float:
    matcher.set_seq1(window)
    return matcher.ratio()
