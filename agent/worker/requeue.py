"""Periodic recovery (a django-q2 schedule, every minute): nothing waits forever.

- tickets sent back to pending because the model server was unreachable, or the disk full, are
  queued again once it answers and FACTORY_MIN_FREE_MB is free again;
- pending tickets whose queue entry was lost (queue flushed, broker restored)
  are queued again after a grace period;
- each model host's health is recorded (with several hosts: the admin names those down);
- a ticket left in_progress by a worker that died is recovered (agent.worker.heartbeat: back to pending once,
  then failed).
"""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from agent import services
from agent.core.model import ModelUnavailable
from agent.defaults import default_model, host_health_key, model_hosts
from agent.worker import diskspace, heartbeat, queueing
from tickets import services as ticket_services
from tickets.models import Ticket
from tickets.states import RUNNABLE

LOST_AFTER = timedelta(minutes=30)


def requeue_waiting() -> int:
    heartbeat.sweep()  # every agent worker sweeps every few seconds too; this covers the time none is alive
    record_host_health()
    waiting = Ticket.objects.filter(estado__in=RUNNABLE).filter(
        error_mensaje__isnull=False) | Ticket.objects.filter(
        estado__in=RUNNABLE, queued_at__lt=timezone.now() - LOST_AFTER)
    in_queue = queueing.waiting_ticket_ids()
    # A ticket whose entry still waits (the only worker is busy) is not queued again.
    to_queue = [ticket for ticket in waiting.distinct() if str(ticket.pk) not in in_queue]
    if not to_queue or not disk_has_room() or not model_is_reachable():
        return 0
    queued = 0
    for ticket in to_queue:
        with transaction.atomic():
            queued += ticket_services.queue_if_ready(ticket=ticket)
    return queued


def disk_has_room() -> bool:
    problem = diskspace.shortage()
    services.record_health(key="disk", ok=not problem, message=problem)
    return not problem


def record_host_health() -> None:
    """Each model host's own state, for the admin to name the hosts down (with several; one is the model's)."""
    if len(model_hosts()) < 2:
        return
    model = default_model()
    for url, ok, problem in model.pool.status(model.name):
        services.record_health(key=host_health_key(url), ok=ok, message=problem)


def model_is_reachable() -> bool:
    """Whether some host has the model."""
    try:
        default_model().check()
    except ModelUnavailable as exc:
        services.record_health(key="model", ok=False, message=str(exc))
        return False
    services.record_health(key="model", ok=True)
    return True


