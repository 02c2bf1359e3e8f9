"""Periodic recovery (a django-q2 schedule, every minute): nothing waits forever.

- tickets sent back to pending because the model server was unreachable are
  queued again once it answers;
- pending tickets whose queue entry was lost (queue flushed, broker restored)
  are queued again after a grace period;
- a ticket left in_progress by a worker that died is failed with a clear message.
"""
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agent import queueing, services
from agent.defaults import default_model
from agent.llm import ModelUnavailable
from lib.outcomes import Outcome
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.states import RUNNABLE, State, TransitionError

LOST_AFTER = timedelta(minutes=30)


def requeue_waiting() -> int:
    fail_abandoned_runs()
    waiting = Ticket.objects.filter(estado__in=RUNNABLE).filter(
        error_mensaje__isnull=False) | Ticket.objects.filter(
        estado__in=RUNNABLE, queued_at__lt=timezone.now() - LOST_AFTER)
    in_queue = queueing.waiting_ticket_ids()
    # A ticket whose entry still waits (the only worker is busy) is not queued again.
    waiting = [ticket for ticket in waiting.distinct() if str(ticket.pk) not in in_queue]
    if not waiting or not model_is_reachable():
        return 0
    queued = 0
    for ticket in waiting:
        with transaction.atomic():
            queued += ticket_services.queue_if_ready(ticket=ticket)
    return queued


def model_is_reachable() -> bool:
    try:
        default_model().check()
    except ModelUnavailable as exc:
        services.record_health(key="model", ok=False, message=str(exc))
        return False
    services.record_health(key="model", ok=True)
    return True


def fail_abandoned_runs() -> int:
    limit = timezone.now() - timedelta(seconds=settings.FACTORY_AGENT_TASK_TIMEOUT + 300)
    stuck = list(Ticket.objects.filter(estado=State.IN_PROGRESS, iniciado_en__lt=limit))
    for ticket in stuck:
        with transaction.atomic():
            ticket.attempts.filter(outcome=Outcome.RUNNING).update(
                outcome=Outcome.ERROR, phase="finished", finished_at=timezone.now(),
                feedback="The agent worker stopped during this attempt.")
            try:
                services.fail_ticket(ticket=ticket, error="The agent worker stopped during the run (no result "
                                                          "within the task timeout); retry the ticket.")
            except TransitionError:
                pass  # changed state meanwhile (cancelled, say): nothing left to recover
    return len(stuck)
