"""Handing runnable tickets to the agent queue (its own django-q2 cluster), once each.

The tickets app announces that a ticket may run (tickets.signals.ticket_runnable),
inside the transaction that made it runnable. With the ORM broker on the tickets'
database the queue entry is written in that transaction: it commits with the ticket
(one commit per POST) and a rollback leaves no entry for a ticket that does not
exist. Any other broker is written to once the transaction commits. The run is
queued unless the ticket already waits in the queue, so a ticket released while the
only worker is busy is not queued again every minute; a ticket created in the same
transaction cannot be waiting, so its check is skipped (the check reads every
waiting entry).
"""
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import BadSignature, SignedPackage
from django_q.tasks import async_task

RUN_TASK = "agent.tasks.run_ticket"
BASELINE_TASK = "agent.tasks.refresh_baseline"
_paused = threading.local()


def enqueue_run(ticket_id: str, *, new: bool = False, broker: Broker | None = None) -> bool:
    """Queue an agent run of the ticket; False when paused here or already waiting in the queue.

    new: the ticket was created in the current transaction, so it cannot be waiting yet.
    """
    if getattr(_paused, "active", False) or (not new and ticket_id in waiting_ticket_ids()):
        return False
    # The agent queue has its own cluster, so a long model call never holds up
    # webhooks or memory writes waiting on the default queue.
    async_task(RUN_TASK, ticket_id, cluster=settings.FACTORY_AGENT_QUEUE, task_name=f"agent-{ticket_id[:8]}",
               group="agent", broker=broker or get_broker(settings.FACTORY_AGENT_QUEUE))
    return True


def on_ticket_runnable(sender, *, ticket_id: str, new: bool = False, **kwargs) -> None:
    """Receiver of tickets.signals.ticket_runnable (connected in AgentConfig.ready), sent inside the transaction."""
    broker = get_broker(settings.FACTORY_AGENT_QUEUE)
    if joins_the_transaction(broker):
        enqueue_run(ticket_id, new=new, broker=broker)
    else:
        transaction.on_commit(lambda: enqueue_run(ticket_id, new=new, broker=broker))


def joins_the_transaction(broker: Broker) -> bool:
    """Whether a queue entry written now commits with the ticket: the ORM broker on the tickets' database.

    Not in sync mode (FACTORY_QUEUE_SYNC), where queueing runs the task at once: it must see the ticket committed.
    """
    return isinstance(broker, ORM) and Conf.ORM == DEFAULT_DB_ALIAS and not Conf.SYNC


def on_ticket_event(sender, *, ticket, event: str, **kwargs) -> None:
    """Receiver of tickets.signals.ticket_event: a merge moves the base, so its test baseline is computed now,
    on the default queue, instead of by the next ticket's run (not while a harness runs tickets itself)."""
    if event == "merged" and not queueing_paused():
        async_task(BASELINE_TASK, ticket.project_id, cluster=settings.Q_CLUSTER["name"],
                   task_name=f"baseline-{ticket.project_id}", group="baselines")


def waiting_ticket_ids() -> set[str]:
    """Tickets whose run waits in the agent queue (not yet taken by a worker)."""
    # The ORM broker locks a taken entry until its timeout; a waiting one's lock is in the past.
    entries = OrmQ.objects.filter(key=settings.FACTORY_AGENT_QUEUE, lock__lte=timezone.now())
    return {ticket_id for _, ticket_id in run_entries(entries)}


def forget_taken_runs(ticket_id: str) -> int:
    """Drop the queue entries of the ticket's runs taken by a worker that died.

    Otherwise the broker hands such an entry out again once its lock expires (the task timeout), long after
    the ticket was recovered.
    """
    taken = OrmQ.objects.filter(key=settings.FACTORY_AGENT_QUEUE, lock__gt=timezone.now())
    stale = [pk for pk, entry_ticket in run_entries(taken) if entry_ticket == ticket_id]
    return OrmQ.objects.filter(pk__in=stale).delete()[0]


def run_entries(entries) -> Iterator[tuple[int, str]]:
    """(entry id, ticket id) of the agent-run tasks among the queue entries."""
    for pk, payload in entries.values_list("pk", "payload"):
        try:
            task = SignedPackage.loads(payload)
        except (BadSignature, ValueError, TypeError):
            continue  # signed with another key: not a task this factory can run anyway
        if task.get("func") == RUN_TASK and task.get("args"):
            yield pk, str(task["args"][0])


def queueing_paused() -> bool:
    return getattr(_paused, "active", False)


@contextmanager
def agent_queue_paused() -> Iterator[None]:
    """Inside this block (this thread only) tickets are not handed to the worker.

    For callers that run tickets themselves, like the benchmark harness: a worker
    on the same database must not take them with another model.
    """
    _paused.active = True
    try:
        yield
    finally:
        _paused.active = False
