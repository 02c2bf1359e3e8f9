import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from lib.languages import BM25_LANGUAGES
from lib.modelnames import MODEL_NAME_HELP, is_model_name
from lib.outcomes import CHOICES as OUTCOME_CHOICES
from lib.outcomes import Outcome
from lib.paths import path_problem
from lib.repourl import RepoUrlProblem, check_branch_name
from tickets.states import State


class EditFormat(models.TextChoices):
    AUTO = "auto", "Auto (whole files under 400 lines, diff above)"
    WHOLE = "whole", "Whole files"
    DIFF = "diff", "SEARCH/REPLACE blocks"


def validate_model_name(value: str) -> None:
    if not is_model_name(value):
        raise ValidationError(f"{value!r} is not {MODEL_NAME_HELP}.")


# The checks of a project's settings live on its fields, so that every door (API, admin, services' full_clean)
# applies the same ones.


def validate_repository_path(value: str) -> None:
    """A path relative to the repository root, never leaving it (lib.paths): the agent reads and clears it."""
    problem = path_problem(value)
    if problem:
        raise ValidationError(problem)


TESTS_CODIGO_MAX_FILES, TESTS_CODIGO_MAX_FILE_BYTES, TESTS_CODIGO_MAX_BYTES = 50, 200_000, 1_000_000


def validate_tests_codigo(value) -> None:
    """The architect's acceptance tests: {"repo/relative/path": "the file's whole content", ...}, bounded."""
    if not isinstance(value, dict):
        raise ValidationError('tests_codigo is an object of test files: {"tests/test_x.py": "its content", ...}.')
    if len(value) > TESTS_CODIGO_MAX_FILES:
        raise ValidationError(f"tests_codigo holds {len(value)} files; at most {TESTS_CODIGO_MAX_FILES}.")
    total = 0
    for path, content in value.items():
        problem = path_problem(path) if isinstance(path, str) else "a path must be a string"
        if problem:
            raise ValidationError(f"tests_codigo: {problem}.")
        if not isinstance(content, str) or "\x00" in content:
            raise ValidationError(f"tests_codigo[{path!r}] must be the file's text (a string without NUL bytes).")
        size = len(content.encode("utf-8", "surrogatepass"))
        if size > TESTS_CODIGO_MAX_FILE_BYTES:
            raise ValidationError(f"tests_codigo[{path!r}] is {size} bytes; at most {TESTS_CODIGO_MAX_FILE_BYTES}.")
        total += size
    if total > TESTS_CODIGO_MAX_BYTES:
        raise ValidationError(f"tests_codigo holds {total} bytes in all; at most {TESTS_CODIGO_MAX_BYTES}.")


def validate_quick_test_command(value: str) -> None:
    if value.strip() and "{files}" not in value:
        raise ValidationError("Put {files} where the changed files go, e.g. `pytest -q {files}`.")


def validate_branch_name(value: str) -> None:
    try:
        check_branch_name(value)
    except RepoUrlProblem as exc:
        raise ValidationError(str(exc)) from None


class Project(models.Model):
    name = models.SlugField(max_length=100, unique=True)
    repo_url = models.CharField(max_length=500, help_text="A git URL or a local path to the repository.")
    default_branch = models.CharField(max_length=100, default="main", validators=[validate_branch_name])
    test_command = models.CharField(max_length=500, help_text="e.g. `pytest -q` or `npm test`.")
    setup_command = models.CharField(max_length=500, blank=True, default="")
    edit_format = models.CharField(max_length=10, choices=EditFormat.choices, default=EditFormat.AUTO)
    quick_test_command = models.CharField(
        max_length=500, blank=True, default="", validators=[validate_quick_test_command],
        help_text="Runs the tests related to a change first; {files} becomes the changed files. Empty: pytest "
                  "on the changed test files, Jest --findRelatedTests, or straight to the full suite.")
    candidates = models.PositiveSmallIntegerField(
        blank=True, null=True, validators=[MinValueValidator(1), MaxValueValidator(8)],
        help_text="Answers requested at once per attempt (empty: FACTORY_CANDIDATES).")
    escalation = ArrayField(
        models.CharField(max_length=200, validators=[validate_model_name]), blank=True, null=True,
        help_text="Models tried in order after FACTORY_MODEL fails (empty: FACTORY_ESCALATION; [] : none).")
    memory_language = models.CharField(
        max_length=20, blank=True, default="", choices=[(name, name) for name in BM25_LANGUAGES],
        help_text="Language of this project's shared memory for keyword search (stemming, stop words); blank: "
                  "FACTORY_MEMORY_LANGUAGE. After changing it run `manage.py memory_reembed --reset`.")
    test_report = models.CharField(
        max_length=300, blank=True, default="", validators=[validate_repository_path],
        help_text="A per-test report the test command writes (JUnit XML, Jest or Vitest JSON), relative to the "
                  "repository root. pytest and node --test need none: the factory asks them for one.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _text_array() -> ArrayField:
    return ArrayField(models.TextField(), default=list, blank=True)


class Ticket(models.Model):
    """One atomic unit of work for the implementer; columns follow the seed's SQL."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="tickets")

    titulo = models.CharField(max_length=200)
    descripcion = models.TextField()
    tipo = models.CharField(max_length=50, default="feature")
    prioridad = models.IntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(5)])
    archivos_modificar = _text_array()
    archivos_referencia = _text_array()
    patrones_obligatorios = _text_array()
    contexto_cipher = models.TextField(blank=True, default="")
    tests_requeridos = _text_array()
    tests_codigo = models.JSONField(
        default=dict, blank=True, validators=[validate_tests_codigo],
        help_text="Acceptance tests written by the architect: {path: content}. Each must fail on the base commit; "
                  "the model may not edit them, and they must pass.")
    tests_codigo_ocultos = models.BooleanField(
        default=False,
        help_text="The acceptance tests stay out of the model's prompt (a replayed commit's own tests): they are "
                  "still placed, locked and required to pass, so only a failing attempt's feedback shows them.")
    depende_de = models.ManyToManyField("self", symmetrical=False, related_name="bloquea", blank=True)

    estado = models.CharField(max_length=50, choices=State.choices, default=State.PENDING)
    intentos = models.IntegerField(default=0)

    branch_name = models.CharField(max_length=100, blank=True, null=True)
    codigo_generado = models.JSONField(blank=True, null=True)
    tests_resultado = models.JSONField(blank=True, null=True)
    error_mensaje = models.TextField(blank=True, null=True)

    creado_en = models.DateTimeField(default=timezone.now)
    iniciado_en = models.DateTimeField(blank=True, null=True)
    completado_en = models.DateTimeField(blank=True, null=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(max_length=200, blank=True, null=True)
    idempotency_hash = models.CharField(max_length=64, blank=True, default="")
    queued_at = models.DateTimeField(blank=True, null=True, help_text="When the ticket last entered the agent queue.")
    heartbeat_at = models.DateTimeField(blank=True, null=True,
                                        help_text="When the agent run working on it last said it was alive.")

    class Meta:
        db_table = "dev_tickets"
        ordering = ["-creado_en"]
        indexes = [
            models.Index(fields=["estado", "prioridad", "creado_en"], name="ticket_state_prio_idx"),
            models.Index(fields=["project", "estado"], name="ticket_project_state_idx"),
            models.Index(fields=["creado_en"], name="ticket_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"], name="ticket_idempotency_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(prioridad__gte=1, prioridad__lte=5), name="ticket_prioridad_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.short_id} {self.titulo}"

    @property
    def short_id(self) -> str:
        return str(self.id)[:8]


class TicketEvent(models.Model):
    """Append-only log of every state change and notable step of a ticket."""

    class Kind(models.TextChoices):
        CREATED = "created"
        STATE = "state"
        UPDATED = "updated"
        ATTEMPT = "attempt"
        COMMENT = "comment"
        NOTE = "note"
        ERROR = "error"
        MERGE = "merge"
        ESCALATED = "escalated"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="A username, or 'agent' / 'system'.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    from_state = models.CharField(max_length=50, blank=True, default="")
    to_state = models.CharField(max_length=50, blank=True, default="")
    message = models.TextField(blank=True, default="")
    data = models.JSONField(blank=True, default=dict)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_time_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor}: {self.kind}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Ticket events are append-only and cannot be changed.")
        super().save(*args, **kwargs)


class TicketAttempt(models.Model):
    """One model answer for a ticket, and everything that followed from it."""

    Outcome = Outcome  # the one list of outcome names (lib.outcomes), reachable from the model too

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=OUTCOME_CHOICES, default=Outcome.RUNNING)
    phase = models.CharField(max_length=200, blank=True, default="", help_text="Live progress of the attempt.")
    model_name = models.CharField(max_length=200, blank=True, default="")
    # The format the answer used ("diff", "whole+diff"; until it is in, the one asked for), with " (auto)" when
    # the project's setting let the agent choose (agent.core.edits.format_label).
    edit_format = models.CharField(max_length=20, blank=True, default="")
    system_prompt = models.TextField(blank=True, default="")
    prompt = models.TextField(blank=True, default="")
    prompt_notes = models.JSONField(blank=True, default=list)
    response = models.TextField(blank=True, default="")
    candidates = models.JSONField(blank=True, default=list,
                                  help_text="Every candidate answer of the attempt when several raced: seed, "
                                            "answer, edits, tests, chosen or not.")
    edit_results = models.JSONField(blank=True, default=dict)
    diff = models.TextField(blank=True, default="")
    test_result = models.JSONField(blank=True, null=True)
    feedback = models.TextField(blank=True, default="", help_text="What the next attempt is told.")
    prompt_tokens = models.IntegerField(blank=True, null=True)
    eval_tokens = models.IntegerField(blank=True, null=True)
    model_seconds = models.FloatField(blank=True, null=True)
    # The Ollama server that answered and when it was asked: the metrics page's busy fraction per host.
    model_host = models.CharField(max_length=300, blank=True, default="")
    model_started_at = models.DateTimeField(blank=True, null=True)
    prompt_eval_seconds = models.FloatField(blank=True, null=True)
    eval_seconds = models.FloatField(blank=True, null=True)
    test_seconds = models.FloatField(blank=True, null=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(blank=True, null=True)

    class Meta:
        ordering = ["ticket", "number"]
        constraints = [models.UniqueConstraint(fields=["ticket", "number"], name="attempt_number_unique")]

    def __str__(self) -> str:
        return f"{self.ticket.short_id} attempt {self.number} ({self.outcome})"

    @property
    def total_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
