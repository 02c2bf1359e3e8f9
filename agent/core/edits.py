"""Apply a code model's answer to a working tree (agent/core/edit_parsing.py reads the answer).

Applying never guesses and never destroys: a SEARCH text must be found exactly once, a block
that was cut off is not applied, and a whole-file block must hold a file, not a file name.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agent.core.edit_formats import EditFormat, choose_format, format_instructions, format_label
from agent.core.edit_parsing import (
    FENCE_LINE,
    EditBlock,
    PathRule,
    join_lines,
    normalize_newlines,
    parse_edits,
    split_lines,
)
from agent.core.edit_search import EditError, replace_unique

__all__ = ["ApplyResult", "EditBlock", "EditError", "EditFailure", "EditFormat", "apply_edits",
           "choose_format", "format_instructions", "format_label", "parse_edits"]

SKIPPED_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache"}
)


@dataclass
class EditFailure:
    path: str
    reason: str


@dataclass
class ApplyResult:
    applied: list[str]
    failed: list[EditFailure]
    notes: list[str] = field(default_factory=list)  # paths taken as another file, said aloud
    formats: list[str] = field(default_factory=list)  # the kinds of block the answer used: "whole", "diff"

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.applied)

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": list(self.applied),
            "failed": [{"path": failure.path, "reason": failure.reason} for failure in self.failed],
            "notes": list(self.notes),
            "formats": list(self.formats),
        }


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


def apply_edits(*, root: Path, answer: str, files_to_modify: Collection[str] = ()) -> ApplyResult:
    """Apply every block of `answer` under `root`.

    `files_to_modify` (the ticket's archivos_modificar) are names the answer may use without an
    extension, and the files a path with a wrong folder but the same file name is taken to mean.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"Worktree root {root} does not exist or is not a directory.")
    ticket_files = cleaned_paths(files_to_modify)
    rule = PathRule(known=frozenset(root_file_names(root)) | frozenset(ticket_files))
    blocks = parse_edits(answer, known_paths=rule.known)
    if not blocks:
        return ApplyResult(applied=[], failed=[EditFailure(path="", reason=no_blocks_reason(answer))])
    paths = PathResolver(tree=TreeFiles(root), rule=rule, ticket_files=ticket_files,
                         written=frozenset(cleaned_paths(block.path for block in blocks)))
    applied: list[str] = []
    failed: list[EditFailure] = []
    for block in blocks:
        try:
            changed = apply_block(root=root, block=block, paths=paths)
        except EditError as error:
            failed.append(EditFailure(path=error.path, reason=error.reason))
            continue
        if changed and changed not in applied:
            applied.append(changed)
    if not applied and not failed:
        failed.append(EditFailure(path="", reason=UNCHANGED_REASON))
    return ApplyResult(applied=applied, failed=failed, notes=list(paths.notes),
                       formats=list(dict.fromkeys(block.kind for block in blocks)))


def no_blocks_reason(answer: str) -> str:
    lines = normalize_newlines(answer).split("\n")
    has_fence = any(FENCE_LINE.match(line) for line in lines)
    return NO_BLOCKS_REASON + (PATHLESS_FENCE_HINT if has_fence else "")


def cleaned_paths(raw_paths: Iterable[str]) -> list[str]:
    """The usable relative paths among `raw_paths`, in order, without repeats."""
    cleaned: dict[str, None] = {}
    for raw in raw_paths:
        try:
            cleaned[clean_relative_path(raw)] = None
        except EditError:
            continue
    return list(cleaned)


def root_file_names(root: Path) -> list[str]:
    # Root files are often named without an extension (gradlew, NOTICE, CODEOWNERS): a line
    # holding exactly such a name is a path.
    with os.scandir(root) as entries:
        return sorted(entry.name for entry in entries if entry.is_file())


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


@dataclass
class PathResolver:
    """Which file a block's path means; every time it is not the path as written, a note says so.

    A path that does not exist is taken, in this order, as: the one ticket file ending with it
    (``calc.py`` for ``app/calc.py``), the one worktree file ending with it, the one ticket file
    with the same file name (``src/calc.py`` for ``app/calc.py``). A ticket file that another
    block of the answer names exactly is never taken: that path was meant as a separate file.
    """

    tree: TreeFiles
    rule: PathRule
    ticket_files: list[str]
    written: frozenset[str]
    notes: dict[str, None] = field(default_factory=dict)

    def resolve(self, relative: str, *, kind: str, creating: bool) -> str:
        if os.path.lexists(self.tree.root / relative):
            return relative
        ticket_suffix = self.ticket_candidates(lambda path: path.endswith("/" + relative))
        if len(ticket_suffix) == 1:
            return self.redirect(relative, ticket_suffix[0], why="the ticket's file ending with it")
        tree_suffix = [] if creating else self.tree.suffix_matches(relative)
        if len(tree_suffix) == 1:
            return self.redirect(relative, tree_suffix[0], why="the only file whose path ends with it")
        name = PurePosixPath(relative).name
        same_name = self.ticket_candidates(lambda path: PurePosixPath(path).name == name)
        if len(same_name) == 1:
            return self.redirect(relative, same_name[0],
                                 why="the ticket's file of that name (the folder was wrong)")
        if creating or kind == "whole":
            return relative  # a new file
        if tree_suffix:
            raise EditError(relative, f"{relative} is ambiguous: it matches {', '.join(tree_suffix)}. "
                                      "Write the full path from the repository root.")
        raise EditError(relative, f"{relative} does not exist, so its SEARCH lines cannot be found. "
                                  "Check the path; to create a new file leave SEARCH empty.")

    def ticket_candidates(self, matches: Callable[[str], bool]) -> list[str]:
        return [path for path in self.ticket_files if path not in self.written and matches(path)]

    def redirect(self, written: str, target: str, *, why: str) -> str:
        self.notes[f"{written} does not exist: edited {target} instead, {why}."] = None
        return target


def apply_block(*, root: Path, block: EditBlock, paths: PathResolver) -> str | None:
    """Apply one block; return the relative path it changed, None when it changed nothing."""
    if block.truncated:
        raise EditError(block.path, truncated_reason(block))
    written = clean_relative_path(block.path)
    creating = block.kind == "diff" and not (block.search or "").strip()
    relative = paths.resolve(written, kind=block.kind, creating=creating)
    target = checked_target(root=root, relative=relative)
    try:
        if block.kind == "whole":
            changed = write_whole(target=target, relative=relative, content=block.replace,
                                  rule=paths.rule)
        elif creating:
            changed = create_from_diff(target=target, relative=relative, content=block.replace)
        else:
            changed = replace_in_file(target=target, relative=relative, block=block)
    except EditError as error:
        if relative != written:
            raise EditError(error.path, f"(You wrote {written}; it was taken as {relative}.) "
                                        + error.reason) from None
        raise
    paths.tree.add(relative)
    return relative if changed else None


def truncated_reason(block: EditBlock) -> str:
    where = f"for {block.path} " if block.path else ""
    if block.kind == "whole":
        return (
            f"The whole-file block {where}has no closing fence: the answer was cut off (or the "
            f"fence was never closed). It was not applied, so {block.path or 'the file'} is "
            "unchanged; send the complete file again, ending with the closing ``` line."
        )
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
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # the machine's disk, not the answer: the runner makes the ticket wait (agent.worker.diskspace)
        raise EditError(relative, f"Could not write {relative}: {error.strerror or error}.") from None


def text_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def only_a_file_name(content: str, rule: PathRule) -> bool:
    lines = text_lines(content)
    return len(lines) == 1 and rule.names_file(lines[0])


def with_trailing_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def write_whole(*, target: Path, relative: str, content: str, rule: PathRule) -> bool:
    content = with_trailing_newline(content)
    if not target.exists():
        write_text_file(target=target, relative=relative, text=content)
        return True
    current = read_text_file(target, relative)
    if not content.strip() and current.text.strip():
        raise EditError(relative, f"The whole-file block for {relative} is empty; it would erase "
                                  "the file. Send the complete file content.")
    if only_a_file_name(content, rule) and len(text_lines(current.text)) > 1:
        raise EditError(relative, f"The whole-file block for {relative} holds only the line "
                                  f"{content.strip()!r}, which names a file: it is not the content "
                                  f"of {relative} and was not applied. Write the path alone on "
                                  "the line before the fence and the complete file inside it.")
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
    new_lines = replaced_lines(file_lines=file_lines, relative=relative, block=block)
    if new_lines == file_lines:
        return False
    write_text_file(target=target, relative=relative, text=join_lines(new_lines),
                    newline=current.newline, bom=current.bom)
    return True


def replaced_lines(*, file_lines: list[str], relative: str, block: EditBlock) -> list[str]:
    """The file with the block applied. A block with lines of `=` signs in its text can be split in several
    places: the last split whose SEARCH is in the file is the real one (an earlier split's SEARCH is only the
    start of the real one, and applying it would garble the file); with none, the first split's error."""
    for search, replace in reversed(block.other_splits):
        try:
            return replace_unique(file_lines=file_lines, search=split_lines(search),
                                  replace=split_lines(replace), relative=relative)
        except EditError:
            continue
    return replace_unique(file_lines=file_lines, search=split_lines(block.search or ""),
                          replace=split_lines(block.replace), relative=relative)
