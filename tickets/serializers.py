from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from lib import repourl
from restkit.fields import RefusesUnknownFields, StrictCharField, StrictIntegerField, StrictSlugField
from tickets import changes
from tickets.links import links_for_id, ticket_links
from tickets.models import (
    TESTS_CODIGO_MAX_FILE_BYTES,
    TESTS_CODIGO_MAX_FILES,
    EditFormat,
    Project,
    Ticket,
    TicketAttempt,
    TicketEvent,
    validate_branch_name,
    validate_model_name,
    validate_repository_path,
    validate_tests_codigo,
)
from tickets.representation import PlannedRepresentation, same
from tickets.selectors import DEPENDENCY_IDS, PROJECT_NAME
from tickets.states import State


def check_repository(*, url: str, branch: str) -> None:
    """The door check of a project's repository (API and admin); raises lib.repourl.RepoUrlProblem."""
    repourl.check_repo_url(url, branch=branch, allowed_roots=settings.FACTORY_ALLOWED_REPO_ROOTS,
                           timeout=settings.FACTORY_GIT_CHECK_TIMEOUT)


class RelativePathField(StrictCharField):
    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=500, validators=[validate_repository_path], **kwargs)


class ProjectSerializer(RefusesUnknownFields, serializers.ModelSerializer):
    """A project as the API shows it (credentials in repo_url masked) and takes it (repo_url checked with git)."""

    ignored_read_only = frozenset({"created_at"})

    # Text fields refuse numbers and booleans instead of storing their str().
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.CharField: StrictCharField, models.SlugField: StrictSlugField}
    repo_url = StrictCharField(max_length=500, help_text=(
        "ssh://, https://, git:// or git@host:org/repo.git; a local path only under FACTORY_ALLOWED_REPO_ROOTS. "
        "Checked with `git ls-remote`. A password or token in it is shown as ***; sending the URL back as shown "
        "keeps the stored one."))
    # The checks of default_branch, test_report and quick_test_command are the model's (the admin's too);
    # quick_test_command, not declared here, takes them from its model field.
    default_branch = StrictCharField(max_length=100, required=False, default="main",
                                     validators=[validate_branch_name])
    edit_format = serializers.ChoiceField(choices=EditFormat.choices, default=EditFormat.AUTO)
    test_report = StrictCharField(max_length=300, required=False, allow_blank=True,
                                  validators=[validate_repository_path])
    candidates = StrictIntegerField(min_value=1, max_value=8, required=False, allow_null=True, help_text=(
        "Answers requested at once per attempt; null: the server's FACTORY_CANDIDATES."))
    escalation = serializers.ListField(child=StrictCharField(max_length=200, validators=[validate_model_name]),
                                       required=False, allow_null=True,
                                       help_text="Models tried in order after FACTORY_MODEL's run fails; null: the "
                                                 "server's FACTORY_ESCALATION; []: none.")

    def validate(self, attrs: dict) -> dict:
        stored = self.instance
        if stored is not None and attrs.get("repo_url") == repourl.masked(stored.repo_url):
            attrs["repo_url"] = stored.repo_url  # sent back as shown: keep the secret we have
        url = attrs.get("repo_url", stored.repo_url if stored else "")
        branch = attrs.get("default_branch", stored.default_branch if stored else "main")
        if stored is None or (url, branch) != (stored.repo_url, stored.default_branch):
            try:
                check_repository(url=url, branch=branch)
            except repourl.RepoUrlProblem as exc:
                raise serializers.ValidationError({"repo_url": [str(exc)]}) from None
        return attrs

    def to_representation(self, instance: Project) -> dict:
        data = super().to_representation(instance)
        data["repo_url"] = repourl.masked(instance.repo_url)
        return data

    class Meta:
        model = Project
        fields = ["name", "repo_url", "default_branch", "test_command", "setup_command", "edit_format",
                  "quick_test_command", "test_report", "candidates", "escalation", "memory_language", "created_at"]
        read_only_fields = ["created_at"]


class TicketEventSerializer(PlannedRepresentation, serializers.ModelSerializer):
    class Meta:
        model = TicketEvent
        fields = ["created_at", "actor", "kind", "from_state", "to_state", "message", "data"]


def capped_edits(results: dict) -> dict:
    """An attempt's edit results with at most API_FILES paths per list (an answer may write 10,000 files)."""
    capped = {key: value[:changes.API_FILES] if isinstance(value, list) else value for key, value in results.items()}
    for key, value in results.items():
        if isinstance(value, list) and len(value) > changes.API_FILES:
            capped[f"{key}_total"] = len(value)
    return capped


class TicketAttemptSerializer(PlannedRepresentation, serializers.ModelSerializer):
    plan_overrides = {"edit_results": ("edit_results", capped_edits)}

    class Meta:
        model = TicketAttempt
        fields = [
            "number", "outcome", "phase", "model_name", "edit_format", "edit_results", "test_result", "candidates",
            "feedback", "prompt_notes", "prompt_tokens", "eval_tokens", "model_seconds", "model_host",
            "test_seconds", "started_at", "finished_at",
        ]


class TicketWriteSerializer(RefusesUnknownFields, serializers.Serializer):
    """Validates a ticket as the architect sends it; unknown keys are refused, never dropped."""

    project = StrictSlugField(required=False)
    titulo = StrictCharField(max_length=200)
    descripcion = StrictCharField()
    tipo = StrictCharField(max_length=50, required=False)
    prioridad = StrictIntegerField(min_value=1, max_value=5, required=False)
    archivos_modificar = serializers.ListField(child=RelativePathField(), required=False)
    archivos_referencia = serializers.ListField(child=RelativePathField(), required=False)
    patrones_obligatorios = serializers.ListField(child=StrictCharField(), required=False)
    contexto_cipher = StrictCharField(required=False, allow_blank=True, allow_null=True)
    tests_requeridos = serializers.ListField(child=StrictCharField(), required=False)
    tests_codigo = serializers.DictField(child=StrictCharField(trim_whitespace=False, allow_blank=True),
                                         required=False, validators=[validate_tests_codigo], help_text=(
        "Acceptance tests written by the architect, as whole files: {\"tests/test_x.py\": \"content\", ...} "
        f"(at most {TESTS_CODIGO_MAX_FILES} files, {TESTS_CODIGO_MAX_FILE_BYTES} bytes each). They are added on the "
        "base before the model's first request and must each fail there (one that passes fails the ticket with "
        "'Fix the ticket:'); the model may not edit them, and they must pass."))
    depende_de = serializers.ListField(child=serializers.UUIDField(), required=False)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object with the ticket's fields."]})
        value = super().to_internal_value(data)
        if value.get("contexto_cipher") is None and "contexto_cipher" in value:
            value["contexto_cipher"] = ""
        return value

    def unknown_field_message(self, name: str) -> str:
        if name == "estado":
            return "A new ticket always starts as 'pending'; change estado with PATCH."
        if name in TicketSerializer.Meta.fields:
            return "This field is read-only; the factory sets it."
        return "Unknown field."

    def validate_project(self, name: str) -> Project:
        try:
            return Project.objects.get(name=name)
        except Project.DoesNotExist:
            raise serializers.ValidationError(f"Unknown project {name!r}.") from None

    def validate_depende_de(self, ids: list) -> list[Ticket]:
        tickets = {ticket.pk: ticket for ticket in Ticket.objects.filter(pk__in=ids)}
        missing = [str(ticket_id) for ticket_id in ids if ticket_id not in tickets]
        if missing:
            raise serializers.ValidationError(f"Unknown ticket(s): {', '.join(missing)}.")
        return [tickets[ticket_id] for ticket_id in dict.fromkeys(ids)]


class TicketPatchSerializer(TicketWriteSerializer):
    estado = serializers.ChoiceField(choices=State.choices, required=False)
    comentario = StrictCharField(required=False, allow_blank=False, help_text=(
        "Never dropped. With a change of estado: the reason recorded with it (pending, cancelled), what the "
        "agent is to change (changes_requested, required there), or a comment recorded with the merge (merged, "
        "only if it happens). Without one: a comment event on the ticket."))
    # A ticket stays in its project (refused with a message in to_internal_value). None removes the inherited
    # field, as DRF documents; the stubs type the attribute as the field.
    project = None  # type: ignore[assignment]

    def __init__(self, *args, **kwargs) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict) and "project" in data:
            raise serializers.ValidationError({"project": ["A ticket cannot move to another project."]})
        if isinstance(data, dict):
            data = {key: value for key, value in data.items()}
            comentario = data.pop("comentario", None)
            value = super().to_internal_value(data)
            if comentario is not None:
                try:
                    value["comentario"] = self.fields["comentario"].run_validation(comentario)
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({"comentario": exc.detail}) from None
            return value
        return super().to_internal_value(data)


class TicketSerializer(serializers.ModelSerializer):
    project: "serializers.SlugRelatedField[Project]" = serializers.SlugRelatedField(slug_field="name", read_only=True)
    depende_de = serializers.SerializerMethodField()
    codigo_generado = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id", "project", "titulo", "descripcion", "tipo", "prioridad", "archivos_modificar",
            "archivos_referencia", "patrones_obligatorios", "contexto_cipher", "tests_requeridos", "tests_codigo",
            "depende_de", "estado", "intentos", "branch_name", "codigo_generado", "tests_resultado",
            "error_mensaje", "failure_kind", "creado_en", "iniciado_en", "completado_en", "links",
        ]
        read_only_fields = fields

    def get_depende_de(self, ticket: Ticket) -> list[str]:
        known = getattr(ticket, DEPENDENCY_IDS, None)  # loaded with the ticket by tickets.selectors
        if known is not None:
            return [str(dependency_id) for dependency_id in known]
        return [str(dependency.pk) for dependency in ticket.depende_de.all()]

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {}})
    def get_codigo_generado(self, ticket: Ticket) -> dict | None:
        """The change without its diff text: every file (the first 500) with its size and its diff's link."""
        diff_link = ticket_links(ticket, self.context.get("request"))["diff"]
        return changes.summary(ticket, file_link=lambda path: f"{diff_link}?{urlencode({'path': path})}")

    def get_links(self, ticket: Ticket) -> dict:
        return ticket_links(ticket, self.context.get("request"))


@extend_schema_serializer(component_name="TicketSummary")
class TicketListSerializer(PlannedRepresentation, TicketSerializer):
    """The list leaves out the large result payloads; GET one ticket for those.

    It reads the rows of selectors.ticket_list() (dicts), not model instances.
    """

    reads_rows = True
    plan_overrides = {
        "project": (PROJECT_NAME, same),
        "depende_de": (DEPENDENCY_IDS, lambda ids: [str(dependency_id) for dependency_id in ids]),
        "links": ("id", "links_of"),
    }

    class Meta(TicketSerializer.Meta):
        fields = [name for name in TicketSerializer.Meta.fields
                  if name not in ("codigo_generado", "contexto_cipher", "tests_codigo")]
        read_only_fields = fields

    def links_of(self, ticket_id) -> dict:
        return links_for_id(ticket_id, self.context.get("request"))


class TicketDetailSerializer(PlannedRepresentation, TicketSerializer):
    events = TicketEventSerializer(many=True, read_only=True)
    attempts = TicketAttemptSerializer(many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = TicketSerializer.Meta.fields + ["events", "attempts"]
        read_only_fields = fields
