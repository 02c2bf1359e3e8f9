"""Thin django-q2 entry points for ticket work."""
from django.conf import settings
from django_q.tasks import async_task


def enqueue_agent_run(ticket_id: str) -> None:
    # The agent queue has its own cluster, so a long model call never holds up
    # webhooks or memory writes waiting on the default queue.
    async_task("agent.tasks.run_ticket", ticket_id, cluster=settings.FACTORY_AGENT_QUEUE,
               task_name=f"agent-{ticket_id[:8]}", group="agent")
