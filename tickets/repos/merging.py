"""The approve's merge on a project's repository: merge a ticket branch into the remote's default branch and push,
at most once.

Before merging, the fetched default branch is searched for a merge naming the ticket (`Ticket: <id>`): an approve
that pushed and then died before recording it (the web process killed, the database lost) left it there, and the
next approve or the reconcile records that merge instead of making another. The git commands are lib.gitmerge's.
"""
from lib.gitmerge import MergeOutcome, merge_in, merges_naming_in
from tickets.repos.clone import ProjectRepo


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
    return merges_naming_in(repo, ticket_ids, ref=f"origin/{project.default_branch}")
