"""A change's files as one page draws them: the stored preview's files while they fit, folded stubs after.

The stored diff is a bounded preview (FACTORY_STORED_DIFF_KB) and the file list says every file with its size;
the page draws what fits PAGE_LINES and folds the rest, each stub naming the URL its diff loads from.
"""
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lib.changerecord import FileStat
from lib.diffview import DiffFile, parse_diff

# Lines rendered inline on one page (each is drawn twice: unified and side by side); past them files are folded
# and their diff is fetched when opened, so a 10,000-file or 100 MB change stays a page of a few hundred KB.
PAGE_LINES = 3000
PAGE_FILES = 400


@dataclass
class ChangePage:
    files: list[DiffFile]
    hidden: int  # files of the change not listed on the page (download the raw diff for them)
    stats: dict[str, int]


def change_page(*, preview: str, truncated: bool, entries: Sequence[FileStat], file_url: Callable[[str], str],
                page_lines: int = PAGE_LINES, page_files: int = PAGE_FILES) -> ChangePage:
    """The files to draw: those of the stored preview while they fit the page, the rest folded stubs whose diff
    `file_url(path)` gives; `entries` is the stored file list (lib.diffsource.files), empty for old tickets."""
    preview, cut = page_part(preview, page_lines=page_lines, page_files=page_files)
    parsed = parse_diff(preview)
    if truncated and not cut and parsed:
        parsed.pop()  # cut in the middle: fetched whole when opened
    by_path = {diff_file.path: diff_file for diff_file in parsed}
    entries = entries or [FileStat(path=diff_file.path, added=diff_file.added, removed=diff_file.removed)
                          for diff_file in parsed]
    files, budget = [], page_lines
    for entry in entries[:page_files]:
        diff_file = by_path.get(entry["path"])
        if diff_file is not None and len(diff_file.lines) <= budget:
            budget -= len(diff_file.lines)
        else:
            diff_file = stub(entry, url=file_url(entry["path"]))
        files.append(with_entry(diff_file, entry))
    stats = {"files": len(entries), "added": sum(entry.get("added", 0) for entry in entries),
             "removed": sum(entry.get("removed", 0) for entry in entries)}
    return ChangePage(files=files, hidden=max(0, len(entries) - page_files), stats=stats)


def page_part(preview: str, *, page_lines: int, page_files: int) -> tuple[str, bool]:
    """The preview's first files while they fit the page, cut at a file's start (parsing and highlighting
    thousands of small files cost seconds); True when something was left out."""
    start, files, lines = 0, 0, 0
    while True:
        following = preview.find("\ndiff --git ", start + 1)
        end = len(preview) if following < 0 else following + 1
        lines += preview.count("\n", start, end)
        files += 1
        if files > page_files or (lines > page_lines and files > 1):
            return preview[:start], True
        if following < 0:
            return preview, False
        start = end


def stub(entry: FileStat, *, url: str) -> DiffFile:
    path, old_path = entry["path"], entry.get("old_path", "")
    status = "binary" if entry.get("binary") else entry.get("status") or "modified"
    diff_file = DiffFile(old_path=old_path, new_path=path, path=path, status=status, lazy_url=url,
                         added=entry.get("added", 0), removed=entry.get("removed", 0))
    return diff_file


def with_entry(diff_file: DiffFile, entry: FileStat) -> DiffFile:
    """What the file list knows that the diff text does not say plainly: size, link target, binary."""
    diff_file.size = entry.get("size")
    diff_file.symlink_target = entry.get("target", "") if entry.get("symlink") else ""
    if entry.get("binary"):
        diff_file.status = "binary"
    return diff_file
