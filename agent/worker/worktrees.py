"""When the worktree pool is refilled: queued on the default queue while tickets run (FACTORY_WARM_WORKTREES).

The pool itself (clones, worktrees, spares, recycling) is tickets.repos'; the agent only decides when to queue
the refill, since the queue and its pause (a harness running tickets itself) are the agent's.
"""
from django.conf import settings
from django_q.tasks import async_task

from agent.worker.queueing import queueing_paused
from tickets.models import Project

KEEP_SPARES_TASK = "agent.tasks.keep_spares"


def refill_later(project: Project) -> None:
    """Queue a refill of the project's pool on the default queue (not while a harness runs tickets itself)."""
    if settings.FACTORY_WARM_WORKTREES and not queueing_paused():
        async_task(KEEP_SPARES_TASK, project.pk, cluster=settings.Q_CLUSTER["name"], task_name=f"spares-{project.pk}",
                   group="worktrees")
