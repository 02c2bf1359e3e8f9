"""Reads of webhooks and their deliveries."""
from django.db.models import Q, QuerySet

from webhooks.models import Webhook, WebhookDelivery


def matching_webhooks(*, event: str) -> QuerySet[Webhook]:
    """Active hooks that subscribe to the event (an empty event list means all of them)."""
    return Webhook.objects.filter(active=True).filter(Q(events=[]) | Q(events__contains=[event]))


def deliveries_for(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook)
