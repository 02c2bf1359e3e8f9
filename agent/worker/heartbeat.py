"""Heartbeats of agent runs, and the sweep that recovers the runs nobody works on any more.

A running agent refreshes its ticket's heartbeat_at every few seconds from a thread of its own, so a long
model call or test run never silences it. A ticket in_progress whose heartbeat is older than
FACTORY_HEARTBEAT_TIMEOUT lost its worker (killed, out of memory, machine gone): the sweep sends it back to
pending once, its running attempt marked interrupted, and fails it when that happens again. The sweep also
closes the attempts a dead run left `running` on a ticket cancelled meanwhile, so a retry is not refused for
ever.

The sweep runs in a watchdog thread of every agent worker process, every few seconds, and in the default
queue's minute schedule (agent.worker.requeue) for when no agent worker is alive. A run that loses the database
(a PostgreSQL restart) reconnects to leave its ticket the same way (after_database_loss).
"""
import logging
import threading
import time
from datetime import datetime, timedelta
from types import TracebackType
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.conf import Conf

from agent import services
from agent.worker import queueing
from lib.outcomes import Outcome
from tickets.models import FailureKind, Ticket, TicketAttempt
from tickets.states import State

log = logging.getLogger(__name__)
WORKER_STOPPED = "The agent worker stopped during the run (no heartbeat for {seconds} s)."


def beat_interval() -> float:
    return min(5.0, settings.FACTORY_HEARTBEAT_TIMEOUT / 4)


def sweep_interval() -> float:
    return min(10.0, settings.FACTORY_HEARTBEAT_TIMEOUT / 4)


def reset_connection() -> None:
    """Drop this thread's database connection (a restart broke it); the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        pass


class Heartbeat:
    """Refreshes one run's heartbeat until the run ends: `with Heartbeat(ticket=claimed): ...`."""

    def __init__(self, *, ticket: Ticket) -> None:
        self.ticket_id, self.run_started = ticket.pk, ticket.iniciado_en
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat_until_stopped, name=f"heartbeat-{ticket.short_id}",
                                        daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _beat_until_stopped(self) -> None:
        try:
            while not self._stop.wait(beat_interval()):
                self.beat()
        finally:
            reset_connection()  # this thread's own connection

    def beat(self) -> None:
        # iniciado_en names the run: once a newer run claimed the ticket, this one no longer speaks for it.
        try:
            Ticket.objects.filter(pk=self.ticket_id, iniciado_en=self.run_started).update(
                heartbeat_at=timezone.now())
        except DatabaseError as exc:
            log.warning("heartbeat of ticket %s not saved (%s); reconnecting", str(self.ticket_id)[:8], exc)
            reset_connection()


# Recovery ------------------------------------------------------------------------


def sweep() -> int:
    """Recover every run whose heartbeat stopped; returns how many tickets it changed."""
    stale = timezone.now() - timedelta(seconds=settings.FACTORY_HEARTBEAT_TIMEOUT)
    reason = WORKER_STOPPED.format(seconds=settings.FACTORY_HEARTBEAT_TIMEOUT)
    recovered = 0
    dead_runs = Ticket.objects.filter(estado=State.IN_PROGRESS).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, iniciado_en__lt=stale))
    for ticket_id, started in dead_runs.values_list("pk", "iniciado_en"):
        recovered += interrupt(ticket_id=ticket_id, run_started=started, reason=reason, stale_before=stale) is not None
    # Attempts a dead run left running on a ticket cancelled meanwhile (a retry refuses while one runs).
    orphans = TicketAttempt.objects.filter(outcome=Outcome.RUNNING).exclude(ticket__estado=State.IN_PROGRESS).filter(
        Q(ticket__heartbeat_at__lt=stale) | Q(ticket__heartbeat_at__isnull=True, started_at__lt=stale))
    for ticket_id in set(orphans.values_list("ticket_id", flat=True)):
        with transaction.atomic():
            recovered += bool(close_attempts(ticket_id=ticket_id, reason=reason))
    return recovered


def interrupt(*, ticket_id: UUID, run_started: datetime | None, reason: str,
              stale_before: datetime | None = None) -> Ticket | None:
    """End a run nobody works on any more: its attempt interrupted, the ticket back to pending the first time
    and failed the next. None when the ticket moved on meanwhile (a newer run, or a fresh heartbeat)."""
    with transaction.atomic():
        tickets = Ticket.objects.select_for_update(skip_locked=stale_before is not None)
        ticket = tickets.filter(pk=ticket_id, iniciado_en=run_started).first()
        if ticket is None or (stale_before is not None and not is_stale(ticket, stale_before)):
            return None
        if stale_before is not None:
            queueing.forget_taken_runs(str(ticket.pk))  # the dead worker's entry, before the new one is queued
        close_attempts(ticket_id=ticket.pk, reason=reason)
        if ticket.estado != State.IN_PROGRESS:
            return ticket  # cancelled meanwhile: closing its attempts was all there was to do
        if services.releases_since_queued(ticket, flag="interrupted") == 0:
            return services.release_interrupted(ticket=ticket, reason=reason)
        return services.fail_ticket(ticket=ticket, kind=FailureKind.INTERRUPTED,
                                   error=f"{reason} It was interrupted before as well; fix the cause (worker memory, "
                                         "database) and retry the ticket.")


def is_stale(ticket: Ticket, stale_before: datetime) -> bool:
    last_sign = ticket.heartbeat_at or ticket.iniciado_en
    return last_sign is None or last_sign < stale_before


def close_attempts(*, ticket_id: UUID, reason: str) -> int:
    return TicketAttempt.objects.filter(ticket_id=ticket_id, outcome=Outcome.RUNNING).update(
        outcome=Outcome.INTERRUPTED, phase="finished", finished_at=timezone.now(), feedback=reason)


def after_database_loss(*, ticket: Ticket, error: DatabaseError) -> Ticket:
    """The database went away mid-run (a restart, a failover): reconnect and leave the ticket in a defined state.

    Re-raises the error when the database stays away longer than the heartbeat timeout: the sweep then
    recovers the ticket once it is back.
    """
    reason = f"The database connection was lost during the run ({' '.join(str(error).split())[:300]})."
    deadline = time.monotonic() + settings.FACTORY_HEARTBEAT_TIMEOUT
    while True:
        reset_connection()
        try:
            interrupt(ticket_id=ticket.pk, run_started=ticket.iniciado_en, reason=reason)
            return Ticket.objects.get(pk=ticket.pk)
        except DatabaseError:
            if time.monotonic() > deadline:
                raise error from None
            time.sleep(1.0)


# The watchdog ----------------------------------------------------------------------


def watch_forever() -> None:
    while True:
        time.sleep(sweep_interval())
        try:
            recovered = sweep()
        except DatabaseError as exc:
            log.warning("heartbeat sweep failed (%s); trying again", exc)
            reset_connection()
            continue
        if recovered:
            log.info("heartbeat sweep recovered %d ticket(s) whose run had stopped", recovered)


def on_worker_spawn(sender, *, proc_name: str, **kwargs) -> None:
    """Receiver of django-q2's post_spawn (connected in AgentConfig.ready): each agent worker watches."""
    if Conf.CLUSTER_NAME == settings.FACTORY_AGENT_QUEUE:
        threading.Thread(target=watch_forever, name="heartbeat-sweep", daemon=True).start()
