"""Disk space: checked before a run starts, and a run stopped by a full disk cleaned up and made to wait.

A full disk is the machine's problem, not the model's: the running attempt is not counted, the ticket's
worktree, the spare checkouts and git's half-written objects are removed (they are what fills the disk during
a run), and the ticket goes back to pending. agent.worker.requeue queues it again once every watched folder has
FACTORY_MIN_FREE_MB free; three such runs in a row fail it for a person (agent.services.release_ticket).
"""
import errno
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from tickets.repos import ProjectRepo

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# What git, Python and the shell print when a write found no room.
FULL_WORDS = ("No space left on device", "Disk quota exceeded")
MB = 1024 * 1024


class DiskFull(RuntimeError):
    """A run found too little free disk space before starting, or ran out of it; the message says where."""


def watched_folders() -> list[Path]:
    """Where a run writes: the data folder (clones, worktrees, dependency caches) and the temporary folder."""
    return [settings.FACTORY_DATA_DIR, Path(tempfile.gettempdir())]


def existing(path: Path) -> Path:
    """The folder itself, or its nearest existing parent (the data folder may not exist yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def shortage() -> str:
    """'' when every watched folder has FACTORY_MIN_FREE_MB free; else which folder lacks how much."""
    minimum = settings.FACTORY_MIN_FREE_MB
    for folder in watched_folders():
        free = shutil.disk_usage(existing(folder)).free // MB
        if free < minimum:
            return (f"only {free} MB free on the filesystem of {folder} (FACTORY_MIN_FREE_MB={minimum}); "
                    "free some space there")
    return ""


def ensure_room() -> None:
    problem = shortage()
    if problem:
        raise DiskFull(problem)


def is_disk_full(error: BaseException) -> bool:
    """Whether the error, or one it came from, is a write refused for lack of space."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        if any(words in str(current) for words in FULL_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def clean_after_full(*, repo: ProjectRepo, branch: str | None) -> None:
    """Free what a run leaves when the disk filled: its worktree, the spares, git's partial objects."""
    if branch:
        repo.drop_worktree(branch)
    repo.drop_spares()
    repo.drop_partial_objects()
    # The run's temporary folders went with their `with` blocks as the error passed through them; other
    # runs' (several agents on one machine) are theirs to remove.
