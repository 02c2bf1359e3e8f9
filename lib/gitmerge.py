"""The approve's git side: merge a ticket branch into the remote's default branch and push, at most once.

Every merge commit names its ticket on a `Ticket: <id>` line. Before merging, the fetched default branch is
searched for one: an approve that pushed and then died before recording it (the web process killed, the
database lost) left it there, and the next approve or the reconcile records that merge instead of making another.
"""
from dataclasses import dataclass, field

import git

from lib.gitrepo import COMMITTER, GitError, ProjectRepo, _run

TICKET_TRAILER = "Ticket: "
TICKETS_PER_SEARCH = 200  # ticket ids per `git log --grep` call, to keep its command line short


@dataclass
class MergeOutcome:
    merged: bool
    commit: str = ""
    conflicts: list[str] = field(default_factory=list)
    message: str = ""
    earlier: bool = False  # the merge was already on the remote (an earlier approve pushed it): none made now


def merge_and_push(project: ProjectRepo, *, branch: str, message: str, ticket_id: str) -> MergeOutcome:
    """Merge the ticket branch into the remote's default branch with a merge commit, then push.

    `message` must carry the `Ticket: <ticket_id>` line. When the remote already has a merge naming the
    ticket, that one is returned and nothing is merged again. On a conflict nothing is pushed and the
    conflicting files are listed.
    """
    project.sync()
    with project.merge_checkout(name=branch) as work:
        earlier = merges_naming(project, [ticket_id], fetch=False).get(ticket_id)
        if earlier:
            return MergeOutcome(merged=True, commit=earlier, earlier=True,
                                message=f"Already merged as {earlier[:10]} by an earlier approve")
        return merge_in(work, branch=branch, message=message, default_branch=project.default_branch)


def merges_naming(project: ProjectRepo, ticket_ids: list[str], *, fetch: bool = True) -> dict[str, str]:
    """The merge commits on the remote's default branch whose message names these tickets, by ticket id."""
    repo = project.sync() if fetch else project.repo()
    wanted, found = set(ticket_ids), dict[str, str]()
    for start in range(0, len(ticket_ids), TICKETS_PER_SEARCH):
        greps = [f"--grep={TICKET_TRAILER}{ticket_id}" for ticket_id in ticket_ids[start:start + TICKETS_PER_SEARCH]]
        output = _run(repo, "log", "log", "--merges", "--fixed-strings", *greps, "--format=%H%x00%B%x01",
                      f"origin/{project.default_branch}")
        for record in output.split("\x01"):
            commit, _, body = record.strip().partition("\x00")
            for line in body.splitlines():
                named = line.removeprefix(TICKET_TRAILER).strip() if line.startswith(TICKET_TRAILER) else ""
                if named in wanted:
                    found.setdefault(named, commit)  # newest first: the latest merge naming it
    return found


def merge_in(work: git.Repo, *, branch: str, message: str, default_branch: str) -> MergeOutcome:
    source = f"origin/{branch}" if f"origin/{branch}" in ProjectRepo.remote_branches(work) else branch
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
