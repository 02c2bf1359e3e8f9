"""Where the rest of the factory feeds and reads the shared memory.

Memory must never stop a ticket: reading falls back to no lessons, and writes
go to the default queue (so they never wait behind an agent run, and a slow
embedding call never slows the review page or the agent).
"""
import logging

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

from lib.outcomes import Outcome
from memory.selectors import search
from tickets.models import Ticket, TicketAttempt

log = logging.getLogger(__name__)
LESSONS = 5
MAX_FAILURE_CHARS = 700


def lessons_for(*, ticket: Ticket) -> list[str]:
    """The top lessons for a ticket: searched with its title, description and files."""
    query = "\n".join([ticket.titulo, ticket.descripcion, *ticket.archivos_modificar])
    try:
        found = search(query=query, k=LESSONS + 3, project=ticket.project.name).items
    except Exception:
        log.exception("memory search failed for ticket %s; continuing without lessons", ticket.pk)
        return []
    lessons = [f"[{item.kind}] {item.text}" for item, _ in found if item.ticket_id != ticket.pk]
    return lessons[:LESSONS]


def remember_run(*, ticket: Ticket, success: bool, attempts: list[TicketAttempt], handback: str = "") -> None:
    """After a hard-won success: what went wrong and what fixed it. After a final failure: the error, or the
    hand-back when every model of the escalation ladder failed."""
    failed = [attempt for attempt in attempts
              if attempt.outcome not in (Outcome.PASSED, Outcome.RUNNING, Outcome.MODEL_ERROR)]
    if success and failed:
        text = (f"Ticket \"{ticket.titulo}\" ({', '.join(ticket.archivos_modificar)}) passed only after "
                f"{len(failed)} failed attempt(s). What went wrong first: {trim(failed[0].feedback)} "
                f"What fixed it: {fix_summary(attempts[-1])}")
        queue_store(ticket=ticket, text=text, kind="solution", tags=["agent", "retry", ticket.tipo])
    elif not success and failed:
        why = trim(handback) if handback else f"Last error: {trim(failed[-1].feedback)}"
        text = (f"Ticket \"{ticket.titulo}\" ({', '.join(ticket.archivos_modificar)}) failed after "
                f"{len(failed)} attempts. {why}")
        queue_store(ticket=ticket, text=text, kind="error", tags=["agent", "failure", ticket.tipo])


def on_review_comment(sender, *, ticket: Ticket, comment: str, reviewer: str, **kwargs) -> None:
    """Receiver of tickets.signals.review_comment (connected in MemoryConfig.ready)."""
    remember_review_comment(ticket=ticket, comment=comment, reviewer=reviewer)


def remember_review_comment(*, ticket: Ticket, comment: str, reviewer: str) -> None:
    text = (f"Reviewer {reviewer} on \"{ticket.titulo}\" ({', '.join(ticket.archivos_modificar)}) asked for "
            f"changes: {comment}")
    queue_store(ticket=ticket, text=text, kind="decision", source="reviewer", tags=["review", ticket.tipo])


def queue_store(*, ticket: Ticket, text: str, kind: str, source: str = "agent", tags: list[str]) -> None:
    kwargs = {"text": text, "kind": kind, "source": source, "project_id": ticket.project_id,
              "ticket_id": str(ticket.pk), "files": list(ticket.archivos_modificar), "tags": tags}
    # The default cluster by name: from inside the agent worker an unnamed task
    # would land on the agent queue, behind the next model run.
    transaction.on_commit(lambda: async_task("memory.tasks.store", kwargs, group="memory",
                                             cluster=settings.Q_CLUSTER["name"], sync=settings.FACTORY_QUEUE_SYNC))


def trim(text: str) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= MAX_FAILURE_CHARS else flat[:MAX_FAILURE_CHARS] + " ..."


def fix_summary(attempt: TicketAttempt) -> str:
    applied = (attempt.edit_results or {}).get("applied", [])
    return f"attempt {attempt.number} changed {', '.join(applied) or 'the files'} and the tests passed."
