"""The agent owns the worktrees: a pool of clean checkouts per project (FACTORY_WARM_WORKTREES), refilled
on the default queue while tickets run, and a merged or cancelled ticket's checkout kept as a spare."""
import logging

from django.conf import settings
from django_q.tasks import async_task

from agent.worker.queueing import queueing_paused
from lib.gitrepo import GitError
from tickets import selectors
from tickets.models import Project, Ticket
from tickets.states import State

KEEP_SPARES_TASK = "agent.tasks.keep_spares"

log = logging.getLogger(__name__)


def on_ticket_event(sender, *, ticket: Ticket, event: str, from_state: str = "", **kwargs) -> None:
    """Receiver of tickets.signals.ticket_event (connected in AgentConfig.ready)."""
    # A run cancelled while in progress still works in its worktree: the run recycles it when it stops.
    if event == "merged" or (event == "cancelled" and from_state != State.IN_PROGRESS):
        recycle(ticket)


def recycle(ticket: Ticket) -> None:
    if not ticket.branch_name:
        return
    try:
        selectors.project_repo(ticket.project).recycle_worktree(ticket.branch_name)
    except GitError:
        log.warning("could not recycle the worktree of %s; it only costs disk space", ticket.short_id,
                    exc_info=True)


def refill_later(project: Project) -> None:
    """Queue a refill of the project's pool on the default queue (not while a harness runs tickets itself)."""
    if settings.FACTORY_WARM_WORKTREES and not queueing_paused():
        async_task(KEEP_SPARES_TASK, project.pk, cluster=settings.Q_CLUSTER["name"], task_name=f"spares-{project.pk}",
                   group="worktrees")


def keep_spares(*, project_id: int) -> int:
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return selectors.project_repo(project).keep_spares()
