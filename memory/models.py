import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    PATTERN = "pattern"
    DECISION = "decision"
    ERROR = "error"
    SOLUTION = "solution"
    CONTEXT = "context"


class Source(models.TextChoices):
    ARCHITECT = "architect"
    AGENT = "agent"
    REVIEWER = "reviewer"
    INIT = "init"


class MemoryItem(models.Model):
    """One piece of shared knowledge. PostgreSQL keeps the item; the Qdrant index keeps its vectors."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    text = models.TextField()
    text_hash = models.CharField(max_length=64, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=20, choices=Source.choices)
    project = models.ForeignKey("tickets.Project", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="memory_items")
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="memory_items")
    files = ArrayField(models.TextField(), default=list, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    needs_embedding = models.BooleanField(default=False, help_text="Stored on BM25 alone; run memory_reembed.")
    embed_model = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", help_text="Who stored it through the API (may delete it).")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "text_hash"], name="memory_unique_text_per_project",
                                    nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["needs_embedding"], name="memory_needs_embedding_idx")]

    def __str__(self) -> str:
        return f"[{self.kind}] {self.text[:80]}"
