from django.contrib.postgres.fields import ArrayField
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


class TestBaseline(models.Model):
    """Every test's outcome on a base commit: what an attempt is judged against (agent.testruns.verdict).

    Computed once per project, commit and test command, in the same sandbox as the
    attempts; refreshed after each merge.
    """

    __test__ = False  # a model, not a test class for pytest to collect

    project = models.ForeignKey("tickets.Project", on_delete=models.CASCADE, related_name="test_baselines")
    commit = models.CharField(max_length=64)
    command = models.CharField(max_length=500)
    report = models.CharField(max_length=40, help_text="junit, jest-json, or console (no per-test report).")
    # test id -> passed / failed / error / skipped; null when the run gave no per-test report.
    outcomes = models.JSONField(blank=True, null=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Counts, exit code and seconds of the run.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "commit", "command"],
                                               name="baseline_per_commit_and_command")]

    def __str__(self) -> str:
        return f"{self.project_id} @ {self.commit[:10]}"

    @property
    def failing(self) -> list[str]:
        return sorted(test_id for test_id, status in (self.outcomes or {}).items() if status in ("failed", "error"))


class ModelProbe(models.Model):
    """What Ollama said about a model the first time it was used (again when its digest changes).

    num_ctx is capped at `context_length`: a window larger than the model's own is
    not used by Ollama, and a prompt built for it would be cut without a word.
    """

    name = models.CharField(max_length=200)
    digest = models.CharField(max_length=100)
    family = models.CharField(max_length=100, blank=True, default="")
    parameter_size = models.CharField(max_length=50, blank=True, default="")
    quantization = models.CharField(max_length=50, blank=True, default="")
    context_length = models.IntegerField(blank=True, null=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "-first_seen"]
        constraints = [models.UniqueConstraint(fields=["name", "digest"], name="probe_per_model_digest")]

    def __str__(self) -> str:
        return f"{self.name} ({self.digest[:12]})"


class ModelTurnWait(models.Model):
    """A model request waiting for its turn on the model hosts (agent.worker.turns); deleted once it has one.

    The places themselves are PostgreSQL advisory locks held by the requests' own sessions: a worker that dies
    gives its place back with its connection. A waiter refreshes `seen_at` as it waits; one not seen for a while
    died and no longer holds anyone back.
    """

    hosts = ArrayField(models.CharField(max_length=300), help_text="Hosts that have the model, any of which will do.")
    priority = models.SmallIntegerField(help_text="0: a run that already had an answer (a retry); 1: a run's first.")
    ticket_id = models.UUIDField(blank=True, null=True)
    requested_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["priority", "requested_at"], name="turn_wait_order")]

    def __str__(self) -> str:
        return f"{self.ticket_id} waiting for {', '.join(self.hosts)} (priority {self.priority})"
