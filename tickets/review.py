"""Review decisions: approve and merge, request changes, re-run on a new base, cancel.

Every path (review page, admin, API, MCP server) goes through these functions,
which check the reviewer's role and the ticket's state under a row lock, so a
second click or a stale page can never merge twice.
"""
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from agent.gitrepo import GitError, ProjectRepo
from tickets import roles, services
from tickets.models import Project, Ticket, TicketEvent
from tickets.states import State, TransitionError


@dataclass
class ApproveResult:
    ticket: Ticket
    merged: bool
    commit: str = ""
    conflicts: list[str] = field(default_factory=list)
    message: str = ""


def project_repo(project: Project) -> ProjectRepo:
    return ProjectRepo(data_dir=settings.FACTORY_DATA_DIR, name=project.name, url=project.repo_url,
                       default_branch=project.default_branch)


def ensure_reviewer(user: AbstractBaseUser | None) -> None:
    if not roles.can_review(user):
        raise PermissionDenied("Only users with the 'reviewer' or 'architect' role can review tickets.")


def approve(*, ticket: Ticket, user: AbstractBaseUser) -> ApproveResult:
    """Merge the ticket branch into the default branch, push, and mark the ticket merged."""
    ensure_reviewer(user)
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().select_related("project").get(pk=ticket.pk)
        if locked.estado != State.COMPLETED:
            raise TransitionError(locked.estado, State.MERGED, "only a completed ticket can be approved")
        if not locked.branch_name:
            raise TransitionError(locked.estado, State.MERGED, "the ticket has no branch to merge")
        repo = project_repo(locked.project)
        message = (f"Merge {locked.branch_name}: {locked.titulo}\n\nTicket: {locked.pk}\n"
                   f"Approved-by: {user.get_username()}")
        try:
            outcome = repo.merge_and_push(branch=locked.branch_name, message=message)
        except GitError as exc:
            services.record_event(ticket=locked, actor=user, kind=TicketEvent.Kind.ERROR, message=str(exc))
            return ApproveResult(ticket=locked, merged=False, message=str(exc))
        if not outcome.merged:
            services.record_event(ticket=locked, actor=user, kind=TicketEvent.Kind.MERGE,
                                  message=outcome.message, data={"conflicts": outcome.conflicts})
            return ApproveResult(ticket=locked, merged=False, conflicts=outcome.conflicts, message=outcome.message)
        merged = services.transition(ticket=locked, to=State.MERGED, actor=user,
                                     message=f"Approved and merged into {locked.project.default_branch} "
                                             f"as {outcome.commit[:10]}.",
                                     data={"merge_commit": outcome.commit})
    _forget_worktree(merged)
    return ApproveResult(ticket=merged, merged=True, commit=outcome.commit, message=outcome.message)


def request_changes(*, ticket: Ticket, user: AbstractBaseUser, comment: str, rebase: bool = False) -> Ticket:
    """Send the ticket back to the agent with the reviewer's comment as feedback."""
    ensure_reviewer(user)
    comment = comment.strip()
    if not comment:
        raise ValueError("Say what to change: the comment is what the agent will be told.")
    with transaction.atomic():
        services.record_event(ticket=ticket, actor=user, kind=TicketEvent.Kind.COMMENT, message=comment,
                              data={"feedback": True, "rebase": rebase})
        updated = services.transition(ticket=ticket, to=State.CHANGES_REQUESTED, actor=user,
                                      message="Changes requested.", data={"comment": comment, "rebase": rebase})
    from memory.hooks import remember_review_comment

    remember_review_comment(ticket=updated, comment=comment, reviewer=user.get_username())
    return updated


def rerun_on_new_base(*, ticket: Ticket, user: AbstractBaseUser, conflicts: list[str]) -> Ticket:
    files = ", ".join(conflicts) or "(unknown files)"
    comment = (f"The default branch moved and merging this branch conflicts in: {files}. Redo the change on "
               "top of the current default branch, keeping what the other changes to these files did.")
    return request_changes(ticket=ticket, user=user, comment=comment, rebase=True)


def cancel(*, ticket: Ticket, user: AbstractBaseUser, reason: str = "") -> Ticket:
    ensure_reviewer(user)
    cancelled = services.cancel(ticket=ticket, actor=user, reason=reason)
    _forget_worktree(cancelled)
    return cancelled


def _forget_worktree(ticket: Ticket) -> None:
    if ticket.branch_name:
        try:
            project_repo(ticket.project).remove_worktree(ticket.branch_name)
        except GitError:
            pass  # a leftover worktree is only disk space; the decision is already recorded
