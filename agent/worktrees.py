"""The agent owns the worktrees: a merged or cancelled ticket's checkout is kept as a spare for the next one."""
import logging

from lib.gitrepo import GitError
from tickets import selectors
from tickets.models import Ticket
from tickets.states import State

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
