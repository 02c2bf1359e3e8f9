"""The worktree pool's upkeep: a merged or cancelled ticket's checkout kept as a spare, and the pool refilled to
FACTORY_WARM_WORKTREES clean checkouts (the agent queues the refill on its own cluster while tickets run)."""
import logging

from django.conf import settings

from lib.gitrepo import GitError
from tickets.models import Project, Ticket
from tickets.repos.clone import ProjectRepo
from tickets.states import State

log = logging.getLogger(__name__)


def project_repo(project: Project) -> ProjectRepo:
    """The project's cached clone and worktrees under FACTORY_DATA_DIR."""
    return ProjectRepo(data_dir=settings.FACTORY_DATA_DIR, name=project.name, url=project.repo_url,
                       default_branch=project.default_branch, spares=settings.FACTORY_WARM_WORKTREES)


def on_ticket_event(sender, *, ticket: Ticket, event: str, from_state: str = "", **kwargs) -> None:
    """Receiver of tickets.signals.ticket_event (connected in TicketsConfig.ready)."""
    # A run cancelled while in progress still works in its worktree: the run recycles it when it stops.
    if event == "merged" or (event == "cancelled" and from_state != State.IN_PROGRESS):
        recycle(ticket)


def recycle(ticket: Ticket) -> None:
    if not ticket.branch_name:
        return
    try:
        project_repo(ticket.project).recycle_worktree(ticket.branch_name)
    except GitError:
        log.warning("could not recycle the worktree of %s; it only costs disk space", ticket.short_id,
                    exc_info=True)


def keep_spares(*, project_id: int) -> int:
    """Fill the project's pool; how many checkouts were made (0 for a project deleted meanwhile)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return project_repo(project).keep_spares()
