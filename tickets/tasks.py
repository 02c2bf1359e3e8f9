"""Thin django-q2 entry points for ticket work."""
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django_q.tasks import async_task

_paused = threading.local()


def enqueue_agent_run(ticket_id: str) -> None:
    if getattr(_paused, "active", False):
        return
    # The agent queue has its own cluster, so a long model call never holds up
    # webhooks or memory writes waiting on the default queue.
    async_task("agent.tasks.run_ticket", ticket_id, cluster=settings.FACTORY_AGENT_QUEUE,
               task_name=f"agent-{ticket_id[:8]}", group="agent")


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
