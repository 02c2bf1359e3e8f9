"""What an attempt may leave in the worktree to be diffed and committed: sizes, links and file kinds.

Checked twice per attempt: on the files the answer wrote, and on the same files after the tests ran (a test
may grow one to gigabytes, or replace it with a link or a FIFO; git would commit the first two and fail on
the third, which used to be blamed on the project). What breaks a rule is undone (back to the branch's
version, or removed) and is the model's failure, told in plain words on its next attempt.
"""
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.core.edits import EditFailure
from lib.paths import resolved_inside

KB = 1024
KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder"}


@dataclass(frozen=True)
class SizeLimits:
    """FACTORY_MAX_FILE_KB and FACTORY_MAX_CHANGE_KB, in bytes."""

    max_file: int = 1024 * KB
    max_change: int = 4096 * KB


def refuse_unfit(*, root: Path, paths: Iterable[str], limits: SizeLimits,
                 answer: Iterable[str] = ()) -> list[EditFailure]:
    """Undo every path that breaks a rule; when the change is over its total size, undo the `answer`'s files
    (those it just wrote) or, after the tests, the largest files until it fits. Says why for each."""
    failures, sizes = [], {}
    for path in sorted(set(paths)):
        reason, size = problem(root, path, limits)
        if reason:
            failures.append(EditFailure(path=path, reason=reason))
        elif size:
            sizes[path] = size
    total = sum(sizes.values())
    if total > limits.max_change:
        failures += over_total(sizes, total=total, limit=limits.max_change, answer=set(answer))
    for failure in failures:
        undo(root, failure.path)
    return failures


def over_total(sizes: dict[str, int], *, total: int, limit: int, answer: set[str]) -> list[EditFailure]:
    head = f"the change would be {shown(total)} in all, over the {shown(limit)} limit (FACTORY_MAX_CHANGE_KB)"
    if answer & set(sizes):
        return [EditFailure(path=path, reason=f"{head}, so none of this answer's files were kept: write less, and "
                                               "never write generated data into the project")
                for path in sorted(answer & set(sizes))]
    failures = []
    for path in sorted(sizes, key=lambda name: -sizes[name]):
        if total <= limit:
            break
        failures.append(EditFailure(path=path, reason=f"{head}; this {shown(sizes[path])} file was undone"))
        total -= sizes[path]
    return failures


def problem(root: Path, path: str, limits: SizeLimits) -> tuple[str, int]:
    """(why `path` cannot be kept, or "", its size when it is a regular file)."""
    folder = os.path.dirname(path)
    if folder and resolved_inside(root, folder) != (root / folder).resolve() or linked_folder(root, path):
        return "a folder on its path was replaced by a symbolic link; only plain folders can be committed", 0
    try:
        info = os.lstat(root / path)
    except FileNotFoundError:
        return "", 0  # deleted: a deletion is always fine
    if stat.S_ISLNK(info.st_mode):
        return link_problem(root, path), 0
    if not stat.S_ISREG(info.st_mode):
        kind = KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
        return (f"is {kind}, left by your code or its tests; only regular files and symbolic links inside the "
                "project can be committed: write a regular file, or remove it when done"), 0
    if info.st_size > limits.max_file:
        return (f"is {shown(info.st_size)}, over the {shown(limits.max_file)} limit for one file "
                "(FACTORY_MAX_FILE_KB); it was undone: keep source files small and never write generated or test "
                "data into the project's files"), 0
    return "", info.st_size


def link_problem(root: Path, path: str) -> str:
    target = os.readlink(root / path)
    lexical = os.path.normpath(os.path.join(os.path.dirname(path), target))
    if os.path.isabs(target) or lexical.startswith("..") or resolved_inside(root, lexical) is None:
        return (f"is a symbolic link to {target!r}, outside the project; it was removed: only links to files of "
                "the project can be committed")
    return ""


def linked_folder(root: Path, path: str) -> bool:
    folder = root
    for part in Path(path).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            return True
    return False


def undo(root: Path, path: str) -> None:
    """Back to the branch's version of `path` (HEAD), or gone when the branch has none."""
    remove(root, path)
    subprocess.run(["git", "checkout", "HEAD", "--", path], cwd=root, capture_output=True, check=False)


def remove(root: Path, path: str) -> None:
    current = root
    for part in Path(path).parts:  # the first link on the way: never go through it
        current = current / part
        if current.is_symlink() or not current.is_dir():
            break
    if current.is_symlink() or (current.exists() and not current.is_dir()):
        current.unlink()
    elif current.is_dir():
        shutil.rmtree(current)


def shown(size: int) -> str:
    if size >= 1024 * KB:
        return f"{size / (1024 * KB):.1f} MB"
    return f"{size / KB:.0f} KB" if size >= KB else f"{size} bytes"
