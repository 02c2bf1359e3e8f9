"""Git plumbing on one repository or worktree: the committer's identity, commands with clear errors, commits,
pushes, diffs, snapshots.

Pure git: nothing here knows where a project's clone or its worktrees live, nor locks them. The one owner of
the clones and the worktree pool is tickets.repos (built by tickets.repos.project_repo), which uses these.
"""
import os
import re
import unicodedata
from pathlib import Path

import git

from lib.repourl import git_environment

# Never committed from a ticket worktree: test-run debris, whatever the project's .gitignore says.
EXCLUDED = ("__pycache__/", "*.pyc", ".pytest_cache/", ".factory-home/", "node_modules/", ".coverage")

GIT_NAME = os.environ.get("FACTORY_GIT_NAME") or "AI Software Factory"
GIT_EMAIL = os.environ.get("FACTORY_GIT_EMAIL") or "factory@localhost"
COMMITTER = {
    "GIT_AUTHOR_NAME": GIT_NAME, "GIT_AUTHOR_EMAIL": GIT_EMAIL,
    "GIT_COMMITTER_NAME": GIT_NAME, "GIT_COMMITTER_EMAIL": GIT_EMAIL,
    # Network transports and allowed local folders only; never a prompt for credentials.
    **git_environment(),
}


class GitError(RuntimeError):
    """A git step failed; the message says which step and git's own words."""


def slugify(text: str, *, max_length: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", ascii_text).strip("-").lower()
    return slug[:max_length].rstrip("-") or "ticket"


def branch_name_for(*, ticket_id: str, titulo: str) -> str:
    return f"factory/{str(ticket_id)[:8]}-{slugify(titulo)}"


def _run(repo: git.Repo, step: str, *args: str) -> str:
    try:
        return repo.git.execute(["git", *args], env=COMMITTER)
    except git.GitCommandError as exc:
        detail = (exc.stderr or exc.stdout or str(exc)).strip().replace("stderr: ", "")
        raise GitError(f"git {step} failed: {detail[-800:]}") from None


def remote_branches(repo: git.Repo) -> set[str]:
    """The branches fetched from origin, as `origin/<name>`."""
    output = _run(repo, "for-each-ref", "for-each-ref", "--format=%(refname:short)", "refs/remotes/origin")
    return set(output.split())


def commit_all(*, worktree: Path, message: str) -> str | None:
    """Commit every change in the worktree; None when there is nothing to commit."""
    repo = git.Repo(worktree)
    _run(repo, "add", "add", "-A")
    if not repo.is_dirty(index=True, working_tree=False, untracked_files=False):
        return None
    _run(repo, "commit", "commit", "--no-verify", "-q", "-m", message)
    return repo.head.commit.hexsha


def push_branch(*, worktree: Path, branch: str) -> None:
    # The ticket branch belongs to the factory: force keeps a re-run from being
    # refused after its worktree was rebuilt from the default branch.
    _run(git.Repo(worktree), "push", "push", "--force", "origin", f"{branch}:refs/heads/{branch}")


def merge_base(*, worktree: Path, ref: str) -> str:
    """The commit where HEAD left `ref`: what the ticket's diff is taken against."""
    return _run(git.Repo(worktree), "merge-base", "merge-base", ref, "HEAD").strip()


def head_commit(*, worktree: Path) -> str:
    return git.Repo(worktree).head.commit.hexsha


def reset_to(*, worktree: Path, commit: str) -> None:
    """The worktree's branch at `commit` and nothing else in it (new and ignored files removed)."""
    repo = git.Repo(worktree)
    _run(repo, "reset", "reset", "--hard", "-q", commit)
    _run(repo, "clean", "clean", "-ffdxq")
