"""Thin django-q2 entry points for the agent."""
from agent.runner import run_ticket as _run_ticket
from agent import requeue


def run_ticket(ticket_id: str) -> str:
    ticket = _run_ticket(ticket_id)
    return "not runnable (taken, not ready or gone)" if ticket is None else ticket.estado


def requeue_waiting() -> int:
    return requeue.requeue_waiting()
