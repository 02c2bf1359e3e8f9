"""The approve's git plumbing: merge a branch into a detached checkout of the default branch and push it, and find
the merge commits that name tickets.

Every merge commit names its ticket on a `Ticket: <id>` line, which is how a merge pushed by an approve that died
before recording it is found again (tickets.repos.merging decides when; this module only speaks git).
"""
from dataclasses import dataclass, field

import git

from lib.gitrepo import COMMITTER, GitError, _run, remote_branches

TICKET_TRAILER = "Ticket: "
TICKETS_PER_SEARCH = 200  # ticket ids per `git log --grep` call, to keep its command line short


@dataclass
class MergeOutcome:
    merged: bool
    commit: str = ""
    conflicts: list[str] = field(default_factory=list)
    message: str = ""
    earlier: bool = False  # the merge was already on the remote (an earlier approve pushed it): none made now


def merges_naming_in(repo: git.Repo, ticket_ids: list[str], *, ref: str) -> dict[str, str]:
    """The merge commits reachable from `ref` whose message names these tickets, by ticket id (the newest)."""
    wanted, found = set(ticket_ids), dict[str, str]()
    for start in range(0, len(ticket_ids), TICKETS_PER_SEARCH):
        greps = [f"--grep={TICKET_TRAILER}{ticket_id}" for ticket_id in ticket_ids[start:start + TICKETS_PER_SEARCH]]
        output = _run(repo, "log", "log", "--merges", "--fixed-strings", *greps, "--format=%H%x00%B%x01", ref)
        for record in output.split("\x01"):
            commit, _, body = record.strip().partition("\x00")
            for line in body.splitlines():
                named = line.removeprefix(TICKET_TRAILER).strip() if line.startswith(TICKET_TRAILER) else ""
                if named in wanted:
                    found.setdefault(named, commit)  # newest first: the latest merge naming it
    return found


def merge_in(work: git.Repo, *, branch: str, message: str, default_branch: str) -> MergeOutcome:
    source = f"origin/{branch}" if f"origin/{branch}" in remote_branches(work) else branch
    try:
        work.git.execute(["git", "merge", "--no-ff", "--no-edit", "-m", message, source], env=COMMITTER)
    except git.GitCommandError as exc:
        conflicts = work.git.execute(["git", "diff", "--name-only", "--diff-filter=U"]).split()
        work.git.execute(["git", "merge", "--abort"], with_exceptions=False)
        if conflicts:
            return MergeOutcome(merged=False, conflicts=conflicts, message=f"Merge conflict in: {', '.join(conflicts)}")
        raise GitError(f"git merge failed: {(exc.stderr or str(exc)).strip()[-500:]}") from None
    commit = work.head.commit.hexsha
    _run(work, "push", "push", "origin", f"HEAD:refs/heads/{default_branch}")
    return MergeOutcome(merged=True, commit=commit, message=f"Merged as {commit[:10]}")
