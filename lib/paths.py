"""The one rule for file paths in tickets: relative to the repository root, never leaving it."""
from pathlib import Path, PurePosixPath, PureWindowsPath


def path_problem(value: str) -> str | None:
    """Why `value` is not an acceptable repository path, or None when it is."""
    if not value.strip():
        return "a path cannot be empty"
    if "\x00" in value:
        return f"{value!r} contains a NUL byte"
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() or value.startswith("~"):
        return f"{value!r} is absolute; give a path relative to the repository root"
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if ".." in parts:
        return f"{value!r} contains '..'; paths must stay inside the repository"
    if ".git" in parts:
        return f"{value!r} is inside .git, git's own data: name files of the repository instead"
    return None


def resolved_inside(root: Path, relative: str) -> Path | None:
    """`relative` under `root` with links followed, or None when it leads out of `root` or into its .git
    (a link the code under test made must never make the factory read or touch a file elsewhere)."""
    base = root.resolve()
    try:
        target = (root / relative).resolve()
    except (OSError, RuntimeError):  # a link loop
        return None
    if not target.is_relative_to(base) or ".git" in target.relative_to(base).parts:
        return None
    return target
