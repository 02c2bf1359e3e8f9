from django.db import models
from django.utils import timezone


class AgentHealth(models.Model):
    """Last known state of what the agent depends on, shown in the admin."""

    key = models.CharField(max_length=50, unique=True)  # "model"
    ok = models.BooleanField(default=True)
    message = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "agent health"

    def __str__(self) -> str:
        return f"{self.key}: {'ok' if self.ok else self.message}"
