"""Thin django-q2 entry point for webhook deliveries; runs on the default cluster, never the agent's."""
from tickets import webhooks


def deliver(delivery_id: int) -> str:
    return webhooks.describe(webhooks.deliver(delivery_id=delivery_id))
