from django.apps import AppConfig


class AgentConfig(AppConfig):
    name = "agent"
    verbose_name = "Implementer agent"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from agent import health
        from agent.worker import heartbeat, queueing
        from tickets import health as ticket_health
        from tickets.signals import ticket_event, ticket_runnable

        ticket_runnable.connect(queueing.on_ticket_runnable, dispatch_uid="agent.worker.queueing")
        ticket_event.connect(queueing.on_ticket_event, dispatch_uid="agent.baselines")
        ticket_health.register(health.agent_notices)
        post_spawn.connect(heartbeat.on_worker_spawn, dispatch_uid="agent.worker.heartbeat")
