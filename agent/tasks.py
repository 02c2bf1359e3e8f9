"""Thin django-q2 entry points for the agent (queued by agent.worker.queueing)."""
from agent.worker import baseline, requeue, runner
from tickets import repos


def run_ticket(ticket_id: str) -> str:
    ticket = runner.run_ticket(ticket_id)
    return "not runnable (taken, not ready or gone)" if ticket is None else ticket.estado


def requeue_waiting() -> int:
    return requeue.requeue_waiting()


def refresh_baseline(project_id: int) -> str:
    return baseline.refresh(project_id=project_id)


def keep_spares(project_id: int) -> int:
    return repos.keep_spares(project_id=project_id)
