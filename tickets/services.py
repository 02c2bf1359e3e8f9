"""Every change to projects and tickets goes through these functions.

The API, the admin, the review page and the agent all call them, so state
checks, the event log, queueing and notifications happen in one place.
"""
import hashlib
import json
import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.errors import IdempotencyConflict
from tickets.models import Project, Ticket, TicketEvent
from tickets.selectors import dependency_closure, remember_new_ticket
from tickets.signals import ticket_event, ticket_runnable
from tickets.states import (
    EDITABLE,
    FINAL,
    RUNNABLE,
    Actor,
    NotEditable,
    State,
    TransitionError,
    check_transition,
)

log = logging.getLogger("factory.tickets")
DEFINITION_FIELDS = (
    "titulo",
    "descripcion",
    "tipo",
    "prioridad",
    "archivos_modificar",
    "archivos_referencia",
    "patrones_obligatorios",
    "contexto_cipher",
    "tests_requeridos",
    "tests_codigo",
    "tests_codigo_ocultos",
)
# Event names sent to webhooks when a ticket enters a state.
STATE_EVENTS: dict[str, str] = {
    State.IN_PROGRESS: "started",
    State.COMPLETED: "completed",
    State.FAILED: "failed",
    State.MERGED: "merged",
    State.CHANGES_REQUESTED: "changes_requested",
    State.CANCELLED: "cancelled",
    State.PENDING: "requeued",
}


def actor_name(actor: User | str | None) -> str:
    if actor is None:
        return Actor.SYSTEM
    if isinstance(actor, str):
        return actor
    return actor.get_username()


def record_event(
    *,
    ticket: Ticket,
    actor: User | str | None,
    kind: str,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
    data: dict | None = None,
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        actor=actor_name(actor),
        kind=kind,
        message=message,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )


def notify_on_commit(*, ticket: Ticket, event: str, data: dict | None = None, from_state: str = "") -> None:
    transaction.on_commit(lambda: ticket_event.send(sender=Ticket, ticket=ticket, event=event, data=data or {},
                                                    from_state=from_state))


# Projects ---------------------------------------------------------------


@transaction.atomic
def create_project(
    *,
    name: str,
    repo_url: str,
    test_command: str,
    default_branch: str = "main",
    setup_command: str = "",
    edit_format: str = "auto",
    quick_test_command: str = "",
    test_report: str = "",
    candidates: int | None = None,
    escalation: list[str] | None = None,
    memory_language: str = "",
) -> Project:
    project = Project(
        name=name,
        repo_url=repo_url,
        default_branch=default_branch,
        test_command=test_command,
        setup_command=setup_command,
        edit_format=edit_format,
        quick_test_command=quick_test_command,
        test_report=test_report,
        candidates=candidates,
        escalation=escalation,
        memory_language=memory_language,
    )
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def update_project(*, project: Project, changes: dict[str, Any]) -> Project:
    for field, value in changes.items():
        setattr(project, field, value)
    project.full_clean()
    project.save()
    return project


# Tickets: creation and edits ----------------------------------------------


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def find_idempotent_ticket(*, actor: User, key: str, fingerprint: str) -> Ticket | None:
    ticket = Ticket.objects.filter(created_by=actor, idempotency_key=key).first()
    if ticket is not None and ticket.idempotency_hash != fingerprint:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for a different request; use a new key for a new ticket."
        )
    return ticket


def create_ticket(
    *,
    actor: User | None,
    project: Project,
    fields: dict[str, Any],
    depende_de: list[Ticket] | tuple[Ticket, ...] = (),
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> tuple[Ticket, bool]:
    """Create a ticket and queue it for the agent; returns (ticket, created).

    With an idempotency key already used by this actor for the same request,
    the first ticket is returned and nothing is created.
    """
    if idempotency_key and actor is not None:
        existing = find_idempotent_ticket(actor=actor, key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            ticket = _insert_ticket(
                actor=actor,
                project=project,
                fields=fields,
                depende_de=depende_de,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
    except IntegrityError:
        # Two retries of one request raced; the first one won.
        if not (idempotency_key and actor is not None):
            raise
        existing = find_idempotent_ticket(actor=actor, key=idempotency_key, fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, False
    return ticket, True


def _insert_ticket(
    *,
    actor: User | None,
    project: Project,
    fields: dict[str, Any],
    depende_de: list[Ticket] | tuple[Ticket, ...],
    idempotency_key: str | None,
    fingerprint: str,
) -> Ticket:
    dependencies = list({dependency.pk: dependency for dependency in depende_de}.values())
    # With nothing to wait for, a new ticket is runnable at once: queued in the same INSERT.
    ticket = Ticket.objects.create(
        project=project,
        created_by=actor,
        idempotency_key=idempotency_key or None,
        idempotency_hash=fingerprint,
        queued_at=None if dependencies else timezone.now(),
        **{name: value for name, value in fields.items() if name in DEFINITION_FIELDS},
    )
    if dependencies:
        through = Ticket.depende_de.through
        through.objects.bulk_create([through(from_ticket=ticket, to_ticket=dependency) for dependency in dependencies])
    event = record_event(ticket=ticket, actor=actor, kind=TicketEvent.Kind.CREATED, to_state=ticket.estado,
                         message="Ticket created.")
    notify_on_commit(ticket=ticket, event="created")
    if dependencies:
        queue_if_ready(ticket=ticket)
    else:
        announce_runnable(ticket=ticket, new=True)
    return remember_new_ticket(ticket=ticket, dependencies=dependencies, events=[event])


@transaction.atomic
def update_ticket(*, ticket: Ticket, actor: User | str | None, changes: dict[str, Any]) -> Ticket:
    """Edit a ticket's definition; only while no agent is working on it and it is not final."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    depende_de = changes.pop("depende_de", None)
    if ticket.estado not in EDITABLE:
        raise NotEditable(ticket.estado)
    changed = [name for name in DEFINITION_FIELDS if name in changes and getattr(ticket, name) != changes[name]]
    for name in changed:
        setattr(ticket, name, changes[name])
    if changed:
        ticket.save(update_fields=changed)
    was_waiting = depende_de is not None and bool(unmerged_dependencies(ticket))
    if depende_de is not None:
        ensure_no_cycle(ticket=ticket, depende_de=depende_de)
        ticket.depende_de.set(depende_de)
        changed.append("depende_de")
    if changed:
        record_event(ticket=ticket, actor=actor, kind=TicketEvent.Kind.UPDATED,
                     message=f"Changed {', '.join(changed)}.", data={"fields": changed})
    if was_waiting:
        queue_if_ready(ticket=ticket)  # the last unmerged dependency may just have been removed
    return ticket


def ensure_no_cycle(*, ticket: Ticket, depende_de: list[Ticket]) -> None:
    if ticket.pk in dependency_closure(tickets=depende_de):
        raise ValueError("depende_de would create a dependency cycle through this ticket")


# Tickets: state changes ----------------------------------------------------


def transition(
    *,
    ticket: Ticket,
    to: str,
    actor: User | str | None,
    message: str = "",
    fields: dict[str, Any] | None = None,
    data: dict | None = None,
) -> Ticket:
    """Move a ticket to another state, checked against the one table of legal moves.

    The row is locked, so two concurrent callers cannot both make the same move.
    """
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        previous = locked.estado
        check_transition(previous, to)
        locked.estado = to
        for name, value in (fields or {}).items():
            setattr(locked, name, value)
        _stamp_times(ticket=locked, to=to)
        locked.save()
        record_event(ticket=locked, actor=actor, kind=TicketEvent.Kind.STATE, from_state=previous,
                     to_state=to, message=message, data=data)
        # The console's one line per state change (`make run` shows INFO).
        log.info("ticket %s %s -> %s by %s: %s", locked.short_id, previous, to, actor_name(actor), message[:200])
        notify_on_commit(ticket=locked, event=STATE_EVENTS[to], data=data, from_state=previous)
        if to in RUNNABLE and actor != Actor.AGENT:
            queue_if_ready(ticket=locked)
        if to == State.MERGED:
            queue_dependents(ticket=locked)
    return locked


def _stamp_times(*, ticket: Ticket, to: str) -> None:
    now = timezone.now()
    if to == State.IN_PROGRESS:
        ticket.iniciado_en = now
        ticket.completado_en = None
    elif to in (State.COMPLETED, State.FAILED):
        ticket.completado_en = now


def retry(*, ticket: Ticket, actor: User | str | None, message: str = "") -> Ticket:
    """Send a failed or cancelled ticket back to the queue; never while an agent run is still going on."""
    current = Ticket.objects.get(pk=ticket.pk)
    if current.estado == State.IN_PROGRESS:
        raise TransitionError(current.estado, State.PENDING, "the agent is working on it; cancel it first")
    if current.attempts.filter(outcome="running").exists():
        raise TransitionError(current.estado, State.PENDING,
                              "the agent is still finishing its last run; retry once it has stopped")
    return transition(ticket=current, to=State.PENDING, actor=actor,
                      message=message or "Sent back to the queue.", fields={"error_mensaje": None})


def cancel(*, ticket: Ticket, actor: User | str | None, reason: str = "") -> Ticket:
    # A waiting ticket's error_mensaje says why it waits ("Ollama is unreachable"): moot once cancelled. A failed
    # ticket's says why it failed, and stays.
    waiting = ticket.estado in (State.PENDING, State.CHANGES_REQUESTED)
    with transaction.atomic():
        cancelled = transition(ticket=ticket, to=State.CANCELLED, actor=actor, message=reason or "Cancelled.",
                               fields={"error_mensaje": None} if waiting else None)
        for dependent in cancelled.bloquea.exclude(estado__in=FINAL):
            record_event(ticket=dependent, actor=Actor.SYSTEM, kind=TicketEvent.Kind.NOTE,
                         message=f"Dependency {cancelled.short_id} was cancelled: this ticket waits until it is "
                                 "reopened and merged, or until it is removed from depende_de.")
    return cancelled


def add_comment(*, ticket: Ticket, actor: User | str | None, text: str) -> TicketEvent:
    with transaction.atomic():
        return record_event(ticket=ticket, actor=actor, kind=TicketEvent.Kind.COMMENT, message=text)


# Queueing --------------------------------------------------------------------


def unmerged_dependencies(ticket: Ticket) -> list[Ticket]:
    return list(ticket.depende_de.exclude(estado=State.MERGED))


def queue_if_ready(*, ticket: Ticket) -> bool:
    """Announce that the ticket may run, unless dependencies are not merged yet.

    The agent app listens and queues the run (once: it skips tickets already waiting in its queue).
    """
    if ticket.estado not in RUNNABLE or unmerged_dependencies(ticket):
        return False
    Ticket.objects.filter(pk=ticket.pk).update(queued_at=timezone.now())
    announce_runnable(ticket=ticket, new=False)
    return True


def announce_runnable(*, ticket: Ticket, new: bool) -> None:
    """ticket_runnable, sent inside the caller's transaction (see tickets.signals); new: created just now."""
    ticket_runnable.send(sender=Ticket, ticket_id=str(ticket.pk), new=new)


def queue_dependents(*, ticket: Ticket) -> list[Ticket]:
    queued = []
    for dependent in ticket.bloquea.filter(estado__in=RUNNABLE):
        if queue_if_ready(ticket=dependent):
            record_event(ticket=dependent, actor=Actor.SYSTEM, kind=TicketEvent.Kind.NOTE,
                         message=f"Dependency {ticket.short_id} merged; queued for the agent.")
            queued.append(dependent)
    return queued
