"""Outbound webhooks: which hooks want an event, the signed POST, and retries with backoff.

A ticket event costs the API or the agent one INSERT per matching hook; the
POST itself runs in a django-q2 task on the default cluster, and a failed try
is retried later by a one-off schedule, so a slow or dead endpoint never holds
a request, an agent run or a sleeping worker. Delivery is at least once:
receivers deduplicate on X-Factory-Delivery.
"""
import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from tickets.links import ticket_links
from tickets.models import Ticket
from webhooks.models import Webhook, WebhookDelivery
from webhooks.selectors import matching_webhooks

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.tasks.deliver"
SIGNATURE_HEADER = "X-Factory-Signature"
BACKOFF_FACTOR = 3


# Signing -------------------------------------------------------------------


def sign(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(*, secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute over the raw body and compare in constant time."""
    return hmac.compare_digest(sign(secret=secret, body=body), header or "")


# Managing hooks -------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_hex(32)


@transaction.atomic
def save_webhook(*, webhook: Webhook) -> Webhook:
    """Validate and save a hook, generating its secret when none was given."""
    if not webhook.secret:
        webhook.secret = new_secret()
    webhook.events = list(dict.fromkeys(webhook.events))
    webhook.full_clean()
    webhook.save()
    return webhook


def create_webhook(
    *, url: str, events: list[str] | tuple[str, ...] = (), secret: str = "", active: bool = True,
    description: str = "",
) -> Webhook:
    return save_webhook(webhook=Webhook(url=url, events=list(events), secret=secret, active=active,
                                        description=description))


# Dispatch ------------------------------------------------------------------


def on_ticket_event(sender, *, ticket: Ticket, event: str, data: dict | None = None, **kwargs) -> None:
    """Receiver of tickets.signals.ticket_event (connected in WebhooksConfig.ready).

    The ticket change is already committed when this runs, so a failure here
    is logged and never reaches the caller.
    """
    try:
        dispatch(ticket=ticket, event=event, data=data or {})
    except Exception:
        logger.exception("Could not queue the webhooks for event %r of ticket %s", event, ticket.pk)


def dispatch(*, ticket: Ticket, event: str, data: dict | None = None) -> list[WebhookDelivery]:
    """One delivery row per matching hook, each sent by a task once the rows are committed."""
    hooks = list(matching_webhooks(event=event))
    if not hooks:
        return []
    payload = event_payload(ticket=ticket, event=event, data=data or {})
    with transaction.atomic():
        deliveries = [
            WebhookDelivery.objects.create(webhook=hook, event=event, ticket_id=ticket.pk, payload=payload)
            for hook in hooks
        ]
        for delivery in deliveries:
            queue_delivery(delivery_id=delivery.pk)
    return deliveries


def event_payload(*, ticket: Ticket, event: str, data: dict) -> dict[str, Any]:
    return {
        "event": event,
        "ticket": {
            "id": str(ticket.pk),
            "estado": ticket.estado,
            "titulo": ticket.titulo,
            "project": ticket.project.name,
            "intentos": ticket.intentos,
            "branch_name": ticket.branch_name,
            "failure_kind": ticket.failure_kind,
        },
        "links": ticket_links(ticket, _FactoryRoot()),
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }


class _FactoryRoot:
    """Stands in for a request so ticket_links builds absolute URLs from FACTORY_URL."""

    def build_absolute_uri(self, path: str) -> str:
        return settings.FACTORY_URL + path


def queue_delivery(*, delivery_id: int) -> None:
    # Named cluster: from the agent's worker the default would be the agent
    # queue, and a webhook must never wait behind a model call.
    transaction.on_commit(lambda: async_task(
        DELIVER_TASK, delivery_id, cluster=settings.Q_CLUSTER["name"], task_name=f"webhook-{delivery_id}",
        group="webhooks", save=False,
    ))


@transaction.atomic
def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (admin action), whatever its earlier outcome."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(delivered=False, next_retry_at=None)
    queue_delivery(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


# Delivery --------------------------------------------------------------------


def deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One try: POST the signed body, record the outcome, schedule the next try on failure."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.delivered:
        return delivery
    if not delivery.webhook.active:
        return record_try(delivery=delivery, status_code=None, latency_ms=None,
                          error="Not sent: the webhook was deactivated.", final=True)
    body = render_body(delivery=delivery)
    status_code, latency_ms, error = post(webhook=delivery.webhook, delivery=delivery, body=body)
    return record_try(delivery=delivery, status_code=status_code, latency_ms=latency_ms, error=error)


def render_body(*, delivery: WebhookDelivery) -> bytes:
    body = {**delivery.payload, "sent_at": timezone.now().isoformat(), "delivery_id": delivery.pk}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def post(*, webhook: Webhook, delivery: WebhookDelivery, body: bytes) -> tuple[int | None, int, str]:
    """POST the body; returns (status code, latency in ms, error or '')."""
    timeout = settings.FACTORY_WEBHOOK_TIMEOUT
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ai-software-factory-webhooks/1",
        "X-Factory-Event": delivery.event,
        "X-Factory-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(secret=webhook.secret, body=body),
    }
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout) as client:
            # Timed again once the client is built, so latency is the endpoint's, not TLS set-up's.
            started = time.monotonic()
            response = client.post(webhook.url, content=body, headers=headers)
    except httpx.TimeoutException:
        return None, elapsed_ms(started), f"No answer within {timeout:g} s (FACTORY_WEBHOOK_TIMEOUT)."
    except httpx.HTTPError as exc:
        return None, elapsed_ms(started), f"{type(exc).__name__}: {exc}"
    latency = elapsed_ms(started)
    if response.is_success:
        return response.status_code, latency, ""
    return response.status_code, latency, f"HTTP {response.status_code}: {response.text[:300]}"


def elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def backoff(*, tries: int) -> timedelta:
    """Wait before try number tries+1: base, 3x base, 9x base..."""
    return timedelta(seconds=settings.FACTORY_WEBHOOK_BACKOFF_S * BACKOFF_FACTOR ** (tries - 1))


@transaction.atomic
def record_try(
    *, delivery: WebhookDelivery, status_code: int | None, latency_ms: int | None, error: str, final: bool = False,
) -> WebhookDelivery:
    delivery.attempts += 1
    delivery.tries = [*delivery.tries, {"at": timezone.now().isoformat(), "status_code": status_code,
                                        "latency_ms": latency_ms, "error": error}]
    delivery.status_code = status_code
    delivery.latency_ms = latency_ms
    delivery.error = error
    delivery.delivered = not error
    retry = not delivery.delivered and not final and delivery.attempts < settings.FACTORY_WEBHOOK_MAX_TRIES
    delivery.next_retry_at = timezone.now() + backoff(tries=delivery.attempts) if retry else None
    delivery.save(update_fields=["attempts", "tries", "status_code", "latency_ms", "error", "delivered",
                                 "next_retry_at"])
    if retry:
        schedule_retry(delivery=delivery)
    elif error:
        logger.warning("Webhook delivery %s to %s gave up after %s tries: %s", delivery.pk, delivery.webhook.url,
                       delivery.attempts, error)
    return delivery


def schedule_retry(*, delivery: WebhookDelivery) -> Schedule:
    # A one-off schedule (deleted once it has run) instead of a sleeping
    # worker; django-q2's scheduler picks it up at its next tick after next_run.
    return Schedule.objects.create(
        name=f"webhook-delivery-{delivery.pk}-try-{delivery.attempts + 1}",
        func=DELIVER_TASK,
        args=repr((delivery.pk,)),
        kwargs=repr({"q_options": {"save": False, "task_name": f"webhook-{delivery.pk}"}}),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=delivery.next_retry_at,
        cluster=settings.Q_CLUSTER["name"],
    )


def describe(delivery: WebhookDelivery | None) -> str:
    if delivery is None:
        return "delivery gone (its webhook was deleted)"
    if delivery.delivered:
        return f"delivered in {delivery.latency_ms} ms (HTTP {delivery.status_code})"
    retry = f"; next try at {delivery.next_retry_at:%H:%M:%S}" if delivery.next_retry_at else "; gave up"
    return f"try {delivery.attempts} failed: {delivery.error}{retry}"
