"""A worktree's content as git trees, built from the paths known to have changed: no scan of the checkout.

`git add -A`, `git status` and `git diff` against the working tree look at every file: 100 to 250 ms each on a
20,000-file checkout of the development machine, and the agent ran six of them per attempt. The agent knows
which files it wrote, so the tree of the worktree is HEAD's with those paths updated: a copy of the index
is updated for those paths only, then `git write-tree` (whose cache-tree reuses every untouched folder).
Diffs, changed files, statistics and the commit are then comparisons of trees.

Only what the agent wrote is in these trees: files a test run creates or changes are not (they were
committed before when .gitignore missed them; EXCLUDED in lib.gitrepo already meant to keep them out).
"""
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import git

from lib.gitrepo import COMMITTER, GitError, _run


def index_file(worktree: Path) -> Path:
    """The worktree's index, from its .git file (a linked worktree) or folder, without running git."""
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return dot_git / "index"
    admin = Path(dot_git.read_text().split(":", 1)[1].strip())
    return (admin if admin.is_absolute() else (worktree / admin).resolve()) / "index"


def tree_with(*, worktree: Path, paths: Iterable[str]) -> str:
    """HEAD's tree (the index's) with `paths` as they are in the worktree now: added, changed or deleted."""
    repo = git.Repo(worktree)
    names = sorted(set(paths))
    if not names:
        return _run(repo, "rev-parse", "rev-parse", "HEAD^{tree}").strip()
    with tempfile.TemporaryDirectory(prefix="factory-index-") as folder:
        copy = Path(folder) / "index"
        shutil.copyfile(index_file(worktree), copy)
        env = {**COMMITTER, "GIT_INDEX_FILE": str(copy)}
        try:
            repo.git.execute(["git", "update-index", "--add", "--remove", "--", *names], env=env)
            return repo.git.execute(["git", "write-tree"], env=env).strip()
        except git.GitCommandError as exc:
            raise GitError(f"git update-index failed: {(exc.stderr or str(exc)).strip()[-500:]}") from None


def commit_of(*, worktree: Path, tree: str, message: str) -> str:
    """A commit of `tree` on top of HEAD, leaving the branch, the index and the files alone."""
    repo = git.Repo(worktree)
    return repo.git.execute(["git", "commit-tree", tree, "-p", "HEAD", "-m", message], env=COMMITTER).strip()


def commit_tree(*, worktree: Path, tree: str, paths: Iterable[str], message: str) -> str | None:
    """Commit `tree` on the worktree's branch; None when it is HEAD's already. The index is brought to the
    commit for `paths`, the only entries that differ, so the checkout stays clean for git."""
    repo = git.Repo(worktree)
    head = _run(repo, "rev-parse", "rev-parse", "HEAD").strip()
    if tree == _run(repo, "rev-parse", "rev-parse", "HEAD^{tree}").strip():
        return None
    commit = commit_of(worktree=worktree, tree=tree, message=message)
    _run(repo, "update-ref", "update-ref", "-m", "factory: commit", "HEAD", commit, head)
    names = sorted(set(paths))
    if names:
        _run(repo, "update-index", "update-index", "--add", "--remove", "--", *names)
    return commit


def diff_trees(*, worktree: Path, base: str, tree: str) -> str:
    repo = git.Repo(worktree)
    return repo.git.execute(["git", "diff", "--no-color", "--find-renames", base, tree], strip_newline_in_stdout=False)


def changed_between(*, worktree: Path, base: str, tree: str) -> list[str]:
    return sorted(_run(git.Repo(worktree), "diff", "diff", "--name-only", "--no-renames", base, tree).splitlines())


def stats_between(*, worktree: Path, base: str, tree: str) -> list[dict[str, Any]]:
    output = git.Repo(worktree).git.execute(["git", "diff", "--numstat", "--find-renames", base, tree])
    stats = []
    for line in output.splitlines():
        added, removed, path = line.split("\t", 2)
        stats.append({"path": path, "added": int(added) if added != "-" else 0,
                      "removed": int(removed) if removed != "-" else 0, "binary": added == "-"})
    return stats


def apply_difference(*, worktree: Path, start: str, end: str) -> list[str]:
    """Change the worktree's files by the difference of two trees; returns the paths it touched."""
    repo = git.Repo(worktree)
    patch = repo.git.execute(["git", "diff", "--binary", "--no-renames", start, end], strip_newline_in_stdout=False)
    if not patch.strip():
        return []
    process = subprocess.run(["git", "apply", "--binary", "--whitespace=nowarn", "-"], cwd=worktree, input=patch,
                             text=True, capture_output=True, env={**os.environ, **COMMITTER})
    if process.returncode != 0:
        raise GitError(f"git apply failed while taking a candidate's changes: {process.stderr.strip()[-500:]}")
    return changed_between(worktree=worktree, base=start, tree=end)

