"""Review decisions: approve and merge, request changes, re-run on a new base, cancel (the review app's pages and
actions, PATCH estado and the MCP server all call them).

Every path goes through these
functions, which check the reviewer's role and the ticket's state under a row
lock, so a second click or a stale page can never merge twice. The worktree of a
merged or cancelled ticket is recycled by tickets.repos, which owns the clones and worktrees.

An approve whose merge was pushed but never recorded (the web process killed, or the database lost, between
the push and the commit) is found again by its merge commit's `Ticket:` line: by the next approve, at start
(`manage.py reconcile_merges`) and every minute (review.tasks.reconcile_merges), and recorded as merged with
that commit, never merged a second time.
"""
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction

from tickets import repos, roles, selectors, services
from tickets.models import Project, Ticket, TicketEvent
from tickets.signals import review_comment
from tickets.states import FINAL, Actor, State, TransitionError

log = logging.getLogger(__name__)

# States a reviewer may send back to the agent with a comment.
REVIEWABLE = frozenset({State.COMPLETED, State.FAILED})


class StaleDecision(TransitionError):
    """The decision was made on a page showing an older version of the ticket."""

    def __init__(self, current: str, target: str, reason: str) -> None:
        self.current, self.target = current, target
        Exception.__init__(self, f"Nothing was done: {reason} Look at the current version (reload the page, or GET "
                                 "the ticket) and decide again.")


@dataclass
class ApproveResult:
    ticket: Ticket
    merged: bool
    commit: str = ""
    conflicts: list[str] = field(default_factory=list)
    message: str = ""


def ensure_reviewer(user: User | None) -> None:
    if not roles.can_review(user):
        raise PermissionDenied("Only users with the 'reviewer' or 'architect' role can review tickets.")


def head_of(ticket: Ticket) -> str:
    """The commit the reviewer was shown; a re-run by the agent changes it."""
    return ticket.change.head


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().select_related("project").get(pk=ticket.pk)


def _check_expected(locked: Ticket, *, target: str, expected_state: str | None, expected_head: str | None) -> None:
    if expected_state is not None and locked.estado != expected_state:
        raise StaleDecision(locked.estado, target, f"the decision was made on the ticket as '{expected_state}', "
                                                   f"but it is now '{locked.estado}'.")
    if expected_head is not None and head_of(locked) != expected_head:
        raise StaleDecision(locked.estado, target, f"the change under review is at {head_of(locked)[:12] or 'no commit'}"
                                                   f", not {expected_head[:12]}: a new version of the change since "
                                                   "it was read, or a wrong head.")


def approve(*, ticket: Ticket, user: User, expected_state: str | None = None,
            expected_head: str | None = None, comment: str = "") -> ApproveResult:
    """Merge the ticket branch into the default branch, push, and mark the ticket merged.

    The row lock is held across the merge, so a concurrent approve waits and then
    finds the ticket merged instead of merging a second time. A comment is recorded
    with the merge, and only when the merge happened.
    """
    ensure_reviewer(user)
    mark_approving(ticket=ticket, user=user)
    with transaction.atomic():
        locked = _lock(ticket)
        _check_expected(locked, target=State.MERGED, expected_state=expected_state, expected_head=expected_head)
        if locked.estado != State.COMPLETED:
            raise TransitionError(locked.estado, State.MERGED, "only a completed ticket can be approved")
        if not locked.branch_name:
            raise TransitionError(locked.estado, State.MERGED, "the ticket has no branch to merge")
        repo = repos.project_repo(locked.project)
        message = (f"Merge {locked.branch_name}: {locked.titulo}\n\n{repos.TICKET_TRAILER}{locked.pk}\n"
                   f"Approved-by: {user.get_username()}")
        try:
            outcome = repos.merge_and_push(repo, branch=locked.branch_name, message=message,
                                           ticket_id=str(locked.pk))
        except repos.GitError as exc:
            services.record_event(ticket=locked, actor=user, kind=TicketEvent.Kind.ERROR,
                                  message=f"Approve failed: {exc}")
            return ApproveResult(ticket=locked, merged=False, message=str(exc))
        if not outcome.merged:
            services.record_event(ticket=locked, actor=user, kind=TicketEvent.Kind.MERGE,
                                  message=f"{outcome.message}. Nothing was pushed.",
                                  data={"conflicts": outcome.conflicts})
            return ApproveResult(ticket=locked, merged=False, conflicts=outcome.conflicts, message=outcome.message)
        if comment.strip():
            services.add_comment(ticket=locked, actor=user, text=comment.strip())
        if outcome.earlier:
            merged = record_pushed_merge(locked=locked, commit=outcome.commit, actor=user)
        else:
            merged = services.transition(ticket=locked, to=State.MERGED, actor=user,
                                         message=f"Approved and merged into {locked.project.default_branch} "
                                                 f"as {outcome.commit[:10]}.",
                                         data={"merge_commit": outcome.commit})
    return ApproveResult(ticket=merged, merged=True, commit=outcome.commit, message=outcome.message)


@transaction.atomic
def mark_approving(*, ticket: Ticket, user: User) -> None:
    """Committed before the merge: the periodic reconcile looks only at tickets whose approve began."""
    locked = _lock(ticket)
    if locked.estado == State.COMPLETED and locked.branch_name:
        services.record_event(ticket=locked, actor=user, kind=TicketEvent.Kind.NOTE, message="Approve started.",
                              data={"approving": True})


def record_pushed_merge(*, locked: Ticket, commit: str, actor: User | str) -> Ticket:
    """Record the merge an earlier approve pushed but could not record (`locked`: the row, locked)."""
    return services.transition(ticket=locked, to=State.MERGED, actor=actor,
                               message=f"Merged into {locked.project.default_branch} as {commit[:10]} by an "
                                       "earlier approve whose recording was cut off; recorded now, nothing merged "
                                       "again.",
                               data={"merge_commit": commit, "recovered": True})


def reconcile_merges() -> int:
    """Record as merged every completed ticket whose approve began and whose merge is on the remote.

    One fetch per project that has such tickets; a ticket an approve is working on (row locked) is skipped.
    """
    recorded = 0
    for project, tickets in approving_by_project().items():
        try:
            pushed = repos.merges_naming(repos.project_repo(project), [str(ticket.pk) for ticket in tickets])
        except repos.GitError as exc:
            log.warning("cannot check project %s's merges: %s", project.name, exc)
            continue
        for ticket in tickets:
            if str(ticket.pk) in pushed:
                recorded += record_if_still_completed(ticket=ticket, commit=pushed[str(ticket.pk)])
    return recorded


def approving_by_project() -> dict[Project, list[Ticket]]:
    """Completed tickets with an approve begun since they were completed (the only ones a cut approve leaves)."""
    candidates = (Ticket.objects.filter(estado=State.COMPLETED, events__data__approving=True)
                  .filter(branch_name__gt="").select_related("project").distinct())
    grouped: dict[Project, list[Ticket]] = defaultdict(list)
    for ticket in candidates:
        if ticket.events.filter(data__approving=True, created_at__gte=ticket.completado_en or ticket.creado_en).exists():
            grouped[ticket.project].append(ticket)
    return grouped


def record_if_still_completed(*, ticket: Ticket, commit: str) -> bool:
    with transaction.atomic():
        locked = (Ticket.objects.select_for_update(skip_locked=True).select_related("project")
                  .filter(pk=ticket.pk, estado=State.COMPLETED).first())
        if locked is None:
            return False  # recorded meanwhile, or an approve holds it and will find the merge itself
        record_pushed_merge(locked=locked, commit=commit, actor=Actor.SYSTEM)
        return True


def request_changes(*, ticket: Ticket, user: User, comment: str, rebase: bool = False,
                    expected_state: str | None = None, lesson: str | None = None) -> Ticket:
    """Send the ticket back to the agent with the reviewer's comment as feedback.

    `lesson` is what the shared memory may learn from it (the comment itself by default; "" for nothing).
    """
    ensure_reviewer(user)
    comment = comment.strip()
    if not comment:
        raise ValueError("Say what to change: the comment is what the agent will be told.")
    with transaction.atomic():
        locked = _lock(ticket)
        _check_expected(locked, target=State.CHANGES_REQUESTED, expected_state=expected_state, expected_head=None)
        if locked.estado not in REVIEWABLE:
            raise TransitionError(locked.estado, State.CHANGES_REQUESTED,
                                  "changes can be requested only on a completed or failed ticket")
        services.record_event(ticket=locked, actor=user, kind=TicketEvent.Kind.COMMENT, message=comment,
                              data={"feedback": True, "rebase": rebase})
        updated = services.transition(ticket=locked, to=State.CHANGES_REQUESTED, actor=user,
                                      message="Changes requested.", data={"comment": comment, "rebase": rebase},
                                      fields=dict(services.NO_FAILURE))
    lesson = comment if lesson is None else lesson.strip()
    if lesson:
        transaction.on_commit(lambda: review_comment.send(sender=Ticket, ticket=updated, comment=lesson,
                                                          reviewer=user.get_username()))
    return updated


def rerun_on_new_base(*, ticket: Ticket, user: User, note: str = "",
                      expected_state: str | None = None) -> Ticket:
    """Send the ticket back to the agent to redo the change from the current default branch."""
    ensure_reviewer(user)
    if ticket.estado != State.COMPLETED:
        raise TransitionError(ticket.estado, State.CHANGES_REQUESTED,
                              "only a completed ticket can be re-run on the new base")
    conflicts = selectors.merge_conflicts(ticket=ticket)
    if conflicts:
        comment = (f"The default branch moved and merging this branch conflicts in: {', '.join(conflicts)}. "
                   "Redo the change on top of the current default branch, keeping what the other changes to "
                   "these files did.")
    else:
        comment = "Redo the change on top of the current default branch, which has moved since this branch was made."
    if note.strip():
        comment = f"{comment}\n\n{note.strip()}"
    # Only what the reviewer wrote is a lesson; the factory's own instructions about the new base are not.
    return request_changes(ticket=ticket, user=user, comment=comment, rebase=True, expected_state=expected_state,
                           lesson=note)


def retry(*, ticket: Ticket, user: User, expected_state: str | None = None) -> Ticket:
    """Send a failed or cancelled ticket back to the queue as it is (after the project was fixed, say)."""
    ensure_reviewer(user)
    with transaction.atomic():
        locked = _lock(ticket)
        _check_expected(locked, target=State.PENDING, expected_state=expected_state, expected_head=None)
        return services.retry(ticket=locked, actor=user, message="Retried from the review page.")


def cancel(*, ticket: Ticket, user: User, reason: str = "", expected_state: str | None = None) -> Ticket:
    ensure_reviewer(user)
    with transaction.atomic():
        locked = _lock(ticket)
        _check_expected(locked, target=State.CANCELLED, expected_state=expected_state, expected_head=None)
        if locked.estado in FINAL:
            raise TransitionError(locked.estado, State.CANCELLED, f"the ticket is already {locked.estado}")
        return services.cancel(ticket=locked, actor=user, reason=reason.strip())
