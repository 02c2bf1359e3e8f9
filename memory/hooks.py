"""Where the rest of the factory feeds and reads the shared memory.

Memory must never stop a ticket: each hook swallows and logs its own failures.
"""
from tickets.models import Ticket, TicketAttempt


def lessons_for(*, ticket: Ticket) -> list[str]:
    return []


def remember_run(*, ticket: Ticket, success: bool, attempts: list[TicketAttempt]) -> None:
    return None


def remember_review_comment(*, ticket: Ticket, comment: str, reviewer: str) -> None:
    return None
