from django.contrib.postgres.fields import ArrayField
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone


class WebhookEvent(models.TextChoices):
    """The ticket events of tickets.signals.ticket_event."""

    CREATED = "created"
    STARTED = "started"
    ATTEMPT_FINISHED = "attempt_finished"
    COMPLETED = "completed"
    FAILED = "failed"
    MERGED = "merged"
    CHANGES_REQUESTED = "changes_requested"
    CANCELLED = "cancelled"
    REQUEUED = "requeued"
    ESCALATED = "escalated"


class Webhook(models.Model):
    """An outbound endpoint told about ticket events (n8n, chat bots, CI)."""

    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    events = ArrayField(models.CharField(max_length=50, choices=WebhookEvent.choices), default=list, blank=True,
                        help_text="Comma-separated event names; empty means every event.")
    secret = models.CharField(max_length=200, blank=True, default="",
                              help_text="Signs every body (X-Factory-Signature); generated when left empty.")
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "tickets_webhook"  # created by the tickets app before webhooks had their own
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(models.Model):
    """One event for one webhook, and the outcome of its latest try."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    ticket_id = models.UUIDField(blank=True, null=True, db_index=True)
    payload = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.IntegerField(blank=True, null=True)
    latency_ms = models.IntegerField(blank=True, null=True)
    error = models.TextField(blank=True, default="")
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    next_retry_at = models.DateTimeField(blank=True, null=True)
    tries = models.JSONField(default=list, blank=True,
                             help_text="Every try: when, status code, latency in ms, error.")

    class Meta:
        db_table = "tickets_webhookdelivery"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["webhook", "created_at"], name="delivery_webhook_time_idx")]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} to {self.webhook_id}"
