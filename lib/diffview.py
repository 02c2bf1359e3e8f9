"""Turn a `git diff` unified diff into highlighted, template-ready structures for the review page.

Templates wrap each line's `html` in an element with class `hl` inside a container with class `diff`,
so the rules from `pygments_css()` apply.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import zip_longest

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

PYGMENTS_STYLE = "default"
CSS_SCOPE = ".diff .hl"
# Some lexers backtrack badly on huge inputs (minified bundles); beyond this they are shown as plain text.
MAX_HIGHLIGHT_CHARS = 400_000
# Files with more diff lines than this are shown folded, so one huge file does not bury the rest.
FOLD_LINES = 600

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_FORMATTER = HtmlFormatter(nowrap=True, style=PYGMENTS_STYLE)


@dataclass
class DiffLine:
    kind: str  # "context" | "add" | "del" | "hunk"
    old_no: int | None
    new_no: int | None
    html: str
    no_newline_at_eof: bool = False


@dataclass
class SideBySideRow:
    left: DiffLine | None
    right: DiffLine | None


@dataclass
class DiffFile:
    old_path: str  # "" when the file is added
    new_path: str  # "" when the file is deleted
    path: str
    status: str  # "added" | "deleted" | "renamed" | "modified" | "binary"
    added: int = 0
    removed: int = 0
    lines: list[DiffLine] = field(default_factory=list)
    rows: list[SideBySideRow] = field(default_factory=list)
    language: str = TextLexer.name
    lazy_url: str = ""  # not drawn on the page: its diff is fetched from here when opened (lib.diffpage)
    size: int | None = None  # the new content's size in bytes, when the file list says it
    symlink_target: str = ""


@dataclass
class _RawLine:
    kind: str
    old_no: int | None
    new_no: int | None
    text: str
    no_newline_at_eof: bool = False


@dataclass
class _RawFile:
    header_paths: tuple[str, str] | None = None
    marker_paths: tuple[str | None, str | None] = (None, None)
    binary_paths: tuple[str, str] | None = None
    rename_from: str | None = None
    rename_to: str | None = None
    is_new: bool = False
    is_deleted: bool = False
    is_binary: bool = False
    lines: list[_RawLine] = field(default_factory=list)


def parse_diff(text: str) -> list[DiffFile]:
    """Parse unified diff text; unrecognised input yields an empty list instead of an error."""
    if not isinstance(text, str) or not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    files = (_build_file(raw) for raw in _parse_raw_files(lines))
    return [diff_file for diff_file in files if diff_file is not None]


def pygments_css() -> str:
    # Background and line-number rules are left out: the page colours added/removed rows itself.
    return "\n".join(_FORMATTER.get_token_style_defs(CSS_SCOPE))


def _parse_raw_files(lines: list[str]) -> list[_RawFile]:
    files: list[_RawFile] = []
    current: _RawFile | None = None
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        if line.startswith("diff --git "):
            current = _RawFile(header_paths=_split_git_header(line[len("diff --git "):]))
            files.append(current)
        elif _starts_marker_pair(lines, index):
            if current is None or current.lines or current.marker_paths != (None, None):
                current = _RawFile()
                files.append(current)
            current.marker_paths = (_marker_path(line[4:], "a/"), _marker_path(lines[index + 1][4:], "b/"))
            index += 1
        elif current is not None and _HUNK_RE.match(line):
            index = _consume_hunk(lines, index, current)
            continue
        elif current is not None:
            _apply_extended_header(line, current)
        index += 1
    return files


def _starts_marker_pair(lines: list[str], index: int) -> bool:
    return (
        lines[index].startswith("--- ")
        and index + 1 < len(lines)
        and lines[index + 1].startswith("+++ ")
    )


def _apply_extended_header(line: str, raw: _RawFile) -> None:
    if line.startswith("new file mode"):
        raw.is_new = True
    elif line.startswith("deleted file mode"):
        raw.is_deleted = True
    elif line.startswith(("rename from ", "copy from ")):
        raw.rename_from = _unquote(line.split(" ", 2)[2])
    elif line.startswith(("rename to ", "copy to ")):
        raw.rename_to = _unquote(line.split(" ", 2)[2])
    elif line.startswith("Binary files ") and line.endswith(" differ"):
        raw.is_binary = True
        raw.binary_paths = _split_binary_line(line[len("Binary files "):-len(" differ")])
    elif line == "GIT binary patch":
        raw.is_binary = True


def _consume_hunk(lines: list[str], start: int, raw: _RawFile) -> int:
    match = _HUNK_RE.match(lines[start])
    if match is None:  # the caller only starts a hunk on a line this pattern matched
        raise ValueError(f"not a hunk header: {lines[start][:80]!r}")
    old_no, new_no = int(match[1]), int(match[3])
    old_left = 1 if match[2] is None else int(match[2])
    new_left = 1 if match[4] is None else int(match[4])
    raw.lines.append(_RawLine("hunk", None, None, lines[start].rstrip("\r")))
    index = start + 1
    while index < len(lines):
        line = lines[index]
        if line.startswith("\\"):
            _mark_no_newline(raw.lines)
        elif old_left <= 0 and new_left <= 0:
            break
        elif line[:1] in (" ", "") and old_left > 0 and new_left > 0:
            raw.lines.append(_RawLine("context", old_no, new_no, line[1:]))
            old_no, new_no, old_left, new_left = old_no + 1, new_no + 1, old_left - 1, new_left - 1
        elif line[:1] == "-" and old_left > 0:
            raw.lines.append(_RawLine("del", old_no, None, line[1:]))
            old_no, old_left = old_no + 1, old_left - 1
        elif line[:1] == "+" and new_left > 0:
            raw.lines.append(_RawLine("add", None, new_no, line[1:]))
            new_no, new_left = new_no + 1, new_left - 1
        else:
            break
        index += 1
    return index


def _mark_no_newline(raw_lines: list[_RawLine]) -> None:
    if raw_lines and raw_lines[-1].kind != "hunk":
        raw_lines[-1].no_newline_at_eof = True


def _build_file(raw: _RawFile) -> DiffFile | None:
    old_path, new_path = _resolve_paths(raw)
    if not old_path and not new_path:
        return None
    path = new_path or old_path
    lines, language = _highlight_file(path, raw.lines)
    return DiffFile(
        old_path=old_path,
        new_path=new_path,
        path=path,
        status=_status(raw, old_path=old_path, new_path=new_path),
        added=sum(1 for line in lines if line.kind == "add"),
        removed=sum(1 for line in lines if line.kind == "del"),
        lines=lines,
        rows=_side_by_side(lines),
        language=language,
    )


def _resolve_paths(raw: _RawFile) -> tuple[str, str]:
    header_old, header_new = raw.header_paths or ("", "")
    binary_old, binary_new = raw.binary_paths or (None, None)
    marker_old, marker_new = raw.marker_paths
    old_path = _first_known(raw.rename_from, marker_old, binary_old, _strip_prefix(header_old, "a/"))
    new_path = _first_known(raw.rename_to, marker_new, binary_new, _strip_prefix(header_new, "b/"))
    if raw.is_new:
        old_path = ""
    if raw.is_deleted:
        new_path = ""
    return old_path, new_path


def _first_known(*candidates: str | None) -> str:
    return next((candidate for candidate in candidates if candidate is not None), "")


def _status(raw: _RawFile, *, old_path: str, new_path: str) -> str:
    if raw.is_binary:
        return "binary"
    if not old_path:
        return "added"
    if not new_path:
        return "deleted"
    if raw.rename_from is not None or old_path != new_path:
        return "renamed"
    return "modified"


def _side_by_side(lines: list[DiffLine]) -> list[SideBySideRow]:
    rows: list[SideBySideRow] = []
    deletions: list[DiffLine] = []
    additions: list[DiffLine] = []
    for line in [*lines, None]:
        if line is not None and line.kind == "del":
            deletions.append(line)
        elif line is not None and line.kind == "add":
            additions.append(line)
        else:
            rows.extend(SideBySideRow(left, right) for left, right in zip_longest(deletions, additions))
            deletions.clear()
            additions.clear()
            if line is not None:
                rows.append(SideBySideRow(line, line))
    return rows


def _highlight_file(path: str, raw_lines: list[_RawLine]) -> tuple[list[DiffLine], str]:
    lexer = _lexer_for(path.rsplit("/", 1)[-1])
    old_side = _highlight_lines([line.text for line in raw_lines if line.kind in ("context", "del")], lexer)
    new_side = _highlight_lines([line.text for line in raw_lines if line.kind in ("context", "add")], lexer)
    lines = [_to_diff_line(line, old_side, new_side) for line in raw_lines]
    return lines, lexer.name


def _to_diff_line(raw: _RawLine, old_side: Iterator[str], new_side: Iterator[str]) -> DiffLine:
    if raw.kind == "hunk":
        markup = html.escape(raw.text)
    elif raw.kind == "del":
        markup = next(old_side)
    elif raw.kind == "add":
        markup = next(new_side)
    else:
        next(old_side)
        markup = next(new_side)
    return DiffLine(raw.kind, raw.old_no, raw.new_no, markup, raw.no_newline_at_eof)


def _highlight_lines(texts: list[str], lexer: Lexer) -> Iterator[str]:
    # Pygments treats a lone "\r" as a line break, which would shift every following line.
    texts = [text.replace("\r", "") for text in texts]
    if not texts:
        return iter(())
    source = "\n".join(texts) + "\n"
    plain = [html.escape(text) for text in texts]
    if len(source) > MAX_HIGHLIGHT_CHARS:
        return iter(plain)
    try:
        markup_lines = highlight(source, lexer, _FORMATTER).split("\n")
    except Exception:  # a third-party lexer bug must not take the review page down
        return iter(plain)
    if markup_lines[-1] == "":
        markup_lines.pop()
    return iter(markup_lines if len(markup_lines) == len(texts) else plain)


@lru_cache(maxsize=512)
def _lexer_for(filename: str) -> Lexer:
    try:
        return get_lexer_for_filename(filename, stripnl=False, ensurenl=True)
    except (ClassNotFound, ValueError):
        return TextLexer(stripnl=False, ensurenl=True)


def _split_git_header(rest: str) -> tuple[str, str]:
    if rest.startswith('"'):
        end = _quoted_end(rest)
        return _unquote(rest[:end]), _unquote(rest[end:].lstrip(" "))
    if rest.endswith('"') and ' "' in rest:
        start = rest.rfind(' "')
        return rest[:start], _unquote(rest[start + 1:])
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return rest[:half], rest[half + 1:]
    separator = rest.find(" b/")
    if separator > 0:
        return rest[:separator], rest[separator + 1:]
    return rest, rest


def _split_binary_line(body: str) -> tuple[str, str] | None:
    for separator in (" and b/", ' and "', " and /dev/null"):
        index = body.find(separator)
        if index > 0:
            old_token, new_token = body[:index], body[index + len(" and "):]
            return _marker_path(old_token, "a/"), _marker_path(new_token, "b/")
    return None


def _marker_path(token: str, prefix: str) -> str:
    """Path from a `---`/`+++`/`Binary files` token; "" for /dev/null."""
    if token.startswith('"'):
        token = _unquote(token[:_quoted_end(token)])
    else:
        token = token.rstrip("\r").split("\t", 1)[0]
    return "" if token == "/dev/null" else _strip_prefix(token, prefix)


def _strip_prefix(path: str, prefix: str) -> str:
    return path[len(prefix):] if path.startswith(prefix) else path


def _quoted_end(text: str) -> int:
    index = 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text[index] == '"':
            return index + 1
        else:
            index += 1
    return len(text)


def _unquote(token: str) -> str:
    """Undo git's C-style path quoting (core.quotePath), e.g. "t\\303\\251st" -> tést."""
    if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
        return token
    body, decoded, index = token[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        following = body[index + 1:index + 4]
        if char != "\\" or not following:
            decoded += char.encode()
            index += 1
        elif re.fullmatch(r"[0-7]{3}", following):
            decoded.append(int(following, 8) & 0xFF)
            index += 4
        else:
            escaped = following[0]
            decoded += bytes([_C_ESCAPES[escaped]]) if escaped in _C_ESCAPES else escaped.encode()
            index += 2
    return decoded.decode("utf-8", "replace")

