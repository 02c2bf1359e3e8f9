"""Thin django-q2 entry point for webhook deliveries; runs on the default cluster, never the agent's."""
from webhooks import services


def deliver(delivery_id: int) -> str:
    return services.describe(services.deliver(delivery_id=delivery_id))
