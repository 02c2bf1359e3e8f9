"""State changes made by the agent: claiming, attempts, and the end of a run."""
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from agent.models import AgentHealth
from lib.changerecord import ChangeRecord
from lib.safetext import cleaned
from lib.testschema import SuiteResult
from tickets import services as ticket_services
from tickets.models import FailureKind, Ticket, TicketAttempt, TicketEvent
from tickets.states import RUNNABLE, Actor, State, TransitionError

AGENT = Actor.AGENT
# Runs in a row that may end waiting for the same infrastructure problem (a model server that breaks its
# answers, a full disk) before the ticket fails for a person: a cause the ticket itself brings back (a model
# server that crashes on its prompt, tests that fill the disk) would otherwise requeue it for ever.
WAITS_IN_A_ROW = 3


def claim_ticket(*, ticket_id: str) -> Ticket | None:
    """Atomically take a runnable ticket; None when another worker has it or it is not ready."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(skip_locked=True).filter(pk=ticket_id).first()
        if ticket is None or ticket.estado not in RUNNABLE:
            return None
        if ticket_services.unmerged_dependencies(ticket):
            return None
        try:
            # The heartbeat starts with the claim: an older run's stale one must not make the sweep take it back.
            return ticket_services.transition(ticket=ticket, to=State.IN_PROGRESS, actor=AGENT,
                                              message="The agent started.",
                                              fields={**ticket_services.NO_FAILURE, "heartbeat_at": timezone.now()})
        except TransitionError:
            return None


@transaction.atomic
def set_branch(*, ticket: Ticket, branch: str) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(branch_name=branch)
    ticket.branch_name = branch


@transaction.atomic
def start_attempt(*, ticket: Ticket, model_name: str, edit_format: str, system: str, prompt: str,
                  notes: list[str]) -> TicketAttempt:
    Ticket.objects.select_for_update().filter(pk=ticket.pk).update(intentos=F("intentos") + 1)
    last = ticket.attempts.aggregate(last=Max("number"))["last"] or 0
    # The prompt quotes files and test output, which may hold NUL or bytes that are not UTF-8.
    return TicketAttempt.objects.create(ticket=ticket, number=last + 1, model_name=model_name,
                                        edit_format=edit_format, system_prompt=cleaned(system),
                                        prompt=cleaned(prompt), prompt_notes=cleaned(notes), phase="starting")


def set_phase(*, attempt: TicketAttempt, phase: str) -> None:
    # A plain UPDATE outside any long transaction, so the review page sees it live.
    TicketAttempt.objects.filter(pk=attempt.pk).update(phase=cleaned(phase[:200]))


@transaction.atomic
def finish_attempt(*, attempt: TicketAttempt, fields: dict) -> TicketAttempt:
    # Answers, diffs and test output may hold NUL or bytes that are not UTF-8: stored escaped, never a crash.
    for name, value in cleaned(fields).items():
        setattr(attempt, name, value)
    attempt.finished_at = timezone.now()
    attempt.phase = "finished"
    attempt.save()
    ticket = attempt.ticket
    ticket_services.record_event(ticket=ticket, actor=AGENT, kind=TicketEvent.Kind.ATTEMPT,
                                 message=f"Attempt {attempt.number}: {attempt.get_outcome_display()}.",
                                 data={"attempt": attempt.number, "outcome": attempt.outcome})
    ticket_services.notify_on_commit(ticket=ticket, event="attempt_finished",
                                     data={"attempt": attempt.number, "outcome": attempt.outcome})
    return attempt


@transaction.atomic
def uncount_attempt(*, attempt: TicketAttempt, message: str) -> None:
    """The model server was unreachable: the attempt did not happen, so it leaves no attempt behind.

    The event log keeps what happened; attempt numbers and intentos stay those of real model answers.
    """
    ticket_services.record_event(ticket=attempt.ticket, actor=AGENT, kind=TicketEvent.Kind.ERROR,
                                 message=f"Attempt {attempt.number} not made: {message}")
    attempt.delete()
    Ticket.objects.filter(pk=attempt.ticket_id, intentos__gt=0).update(intentos=F("intentos") - 1)


def complete_ticket(*, ticket: Ticket, tests: SuiteResult | None, code: ChangeRecord) -> Ticket:
    return ticket_services.transition(ticket=ticket, to=State.COMPLETED, actor=AGENT,
                                      message="Tests passed; branch pushed for review.",
                                      fields={"tests_resultado": cleaned(tests or {}), "codigo_generado": cleaned(code.to_json()),
                                              **ticket_services.NO_FAILURE})


def fail_ticket(*, ticket: Ticket, error: str, kind: FailureKind, tests: SuiteResult | None = None,
                code: ChangeRecord | None = None) -> Ticket:
    error = " ".join(cleaned(error).split())  # one line, whatever git or a test runner printed
    fields: dict[str, object] = {"error_mensaje": error[:2000], "failure_kind": kind}
    if tests is not None:
        fields["tests_resultado"] = cleaned(tests)
    if code is not None:
        fields["codigo_generado"] = cleaned(code.to_json())
    return ticket_services.transition(ticket=ticket, to=State.FAILED, actor=AGENT, message=error[:500],
                                      fields=fields)


def release_ticket(*, ticket: Ticket, error: str, kind: FailureKind, flag: str = "") -> Ticket:
    """Back to pending without burning the ticket: the model server or the machine could not be used.

    `flag` names a wait the ticket may bring back itself ("model_broken", "disk_full"): after WAITS_IN_A_ROW
    such runs the ticket fails (no attempt burned) for a person to fix the cause and retry it.
    """
    if flag and releases_since_queued(ticket, flag=flag) + 1 >= WAITS_IN_A_ROW:
        return fail_ticket(ticket=ticket, kind=kind, error=f"{error} This stopped {WAITS_IN_A_ROW} runs in a row: "
                                                           "fix the cause and retry the ticket.")
    return ticket_services.transition(ticket=ticket, to=State.PENDING, actor=AGENT, message=error,
                                      fields={"error_mensaje": error, "failure_kind": kind},
                                      data={flag: True} if flag else None)


def releases_since_queued(ticket: Ticket, *, flag: str) -> int:
    """Runs sent back to pending with `flag` in their event since a person (or the ticket's creation) last
    put the ticket in the queue."""
    by_person = (ticket.events.filter(kind=TicketEvent.Kind.STATE, to_state__in=RUNNABLE)
                 .exclude(actor__in=[Actor.AGENT, Actor.SYSTEM]).order_by("-created_at").first())
    since = by_person.created_at if by_person else ticket.creado_en
    return ticket.events.filter(kind=TicketEvent.Kind.STATE, created_at__gte=since,
                                **{f"data__{flag}": True}).count()


def release_interrupted(*, ticket: Ticket, reason: str) -> Ticket:
    """Back to pending, queued again at once: the run stopped halfway (its worker died, the database went away)."""
    return ticket_services.transition(ticket=ticket, to=State.PENDING, actor=Actor.SYSTEM, message=reason,
                                      fields={"error_mensaje": reason[:2000], "failure_kind": FailureKind.INTERRUPTED},
                                      data={"interrupted": True})


@transaction.atomic
def record_health(*, key: str, ok: bool, message: str = "") -> None:
    AgentHealth.objects.update_or_create(key=key, defaults={"ok": ok, "message": message,
                                                             "checked_at": timezone.now()})


@transaction.atomic
def record_escalation(*, ticket: Ticket, from_model: str, to_model: str, reason: str) -> None:
    ticket_services.record_event(ticket=ticket, actor=AGENT, kind=TicketEvent.Kind.ESCALATED,
                                 message=f"{from_model} failed ({reason[:300]}); escalated to {to_model}, starting "
                                         "again from the base.",
                                 data={"from_model": from_model, "to_model": to_model})
    ticket_services.notify_on_commit(ticket=ticket, event="escalated",
                                     data={"from_model": from_model, "to_model": to_model})


@transaction.atomic
def record_handback(*, ticket: Ticket, text: str, models: list[dict]) -> None:
    """The architect's hand-back after every model failed: what each tried and why it failed."""
    ticket_services.record_event(ticket=ticket, actor=AGENT, kind=TicketEvent.Kind.NOTE, message=text,
                                 data={"handback": models})
