from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from lib import diffview, testresults
from lib.formatting import preformatted, pretty_json, timestamp
from lib.repourl import RepoUrlProblem, masked
from lib.testschema import SuiteResult
from tickets import changes, health, roles, services
from tickets.models import Project, Ticket, TicketAttempt, TicketEvent, validate_model_name, validate_repository_path
from tickets.serializers import check_repository
from tickets.states import NotEditable, TransitionError

NOT_SAVED_ATTRIBUTE = "_factory_not_saved"  # the agent claimed the ticket before the form was saved: no "saved"


class EscalationField(SimpleArrayField):
    """Model names separated by commas, where blank and empty differ as they do in the API: blank keeps the
    server's FACTORY_ESCALATION (stored as None), the single word `none` means no escalation (stored as [])."""

    NO_ESCALATION = "none"

    def clean(self, value):
        text = value.strip() if isinstance(value, str) else value
        if text in self.empty_values:
            return None
        if isinstance(text, str) and text.lower() == self.NO_ESCALATION:
            return []
        return super().clean(value)

    def prepare_value(self, value):
        return self.NO_ESCALATION if value == [] else super().prepare_value(value)

    def has_changed(self, initial, data) -> bool:
        try:
            return self.clean(data) != initial
        except ValidationError:
            return True


class ProjectForm(forms.ModelForm):
    """The same door check as the API: an allowed transport or folder, and `git ls-remote` must answer.

    The fields' own checks (test_report, quick_test_command, default_branch) are the model's, shared with the API.
    """

    escalation = EscalationField(
        forms.CharField(max_length=200, validators=[validate_model_name]), required=False, label="Escalation",
        help_text="Models tried in order after FACTORY_MODEL fails, separated by commas. Leave it blank to use the "
                  "server's FACTORY_ESCALATION; write <code>none</code> for no escalation.")

    class Meta:
        model = Project
        fields = ["name", "repo_url", "default_branch", "test_command", "setup_command", "edit_format",
                  "quick_test_command", "test_report", "candidates", "escalation", "memory_language"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        url, branch = cleaned.get("repo_url"), cleaned.get("default_branch")
        changed = {"repo_url", "default_branch"} & set(self.changed_data)
        if url and branch and (self.instance.pk is None or changed):
            try:
                check_repository(url=url, branch=branch)
            except RepoUrlProblem as exc:
                self.add_error("repo_url", str(exc))
        return cleaned


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    form = ProjectForm
    list_display = ["name", "repository", "default_branch", "test_command", "edit_format", "created_at"]
    search_fields = ["name", "repo_url"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None):
        if obj is not None:
            return [*self.readonly_fields, "name"]  # memory items and ticket branches refer to it by name
        return self.readonly_fields

    @admin.display(description="repo URL", ordering="repo_url")
    def repository(self, project: Project) -> str:
        return masked(project.repo_url)


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("time", "actor", "kind", "from_state", "to_state", "message")
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Time")
    def time(self, event: TicketEvent) -> str:
        return timestamp(event.created_at)


class TicketAttemptInline(admin.StackedInline):
    model = TicketAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("number", "outcome", "phase", "model_name", "edit_format", "times", "tokens",
                                "timing", "edit_summary", "tests", "feedback_text", "answer", "prompt_text")
    ordering = ["number"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Started / finished")
    def times(self, attempt: TicketAttempt) -> str:
        return f"{timestamp(attempt.started_at)} / {timestamp(attempt.finished_at)}"

    @admin.display(description="Tokens (prompt / output)")
    def tokens(self, attempt: TicketAttempt) -> str:
        return f"{attempt.prompt_tokens or 0} / {attempt.eval_tokens or 0}"

    @admin.display(description="Time (model / tests)")
    def timing(self, attempt: TicketAttempt) -> str:
        return f"{attempt.model_seconds or 0:.1f} s / {attempt.test_seconds or 0:.1f} s"

    @admin.display(description="Edits")
    def edit_summary(self, attempt: TicketAttempt) -> SafeString | str:
        edits = attempt.edit_results or {}
        lines = [("edit-ok", f"✓ applied {path}") for path in edits.get("applied") or []]
        lines += [("edit-bad", f"✗ not applied {failure.get('path') or '(answer)'}: {failure.get('reason')}")
                  for failure in edits.get("failed") or []]
        lines += [("edit-bad", f"✗ syntax error {failure.get('path')}: {failure.get('reason')}")
                  for failure in edits.get("syntax_errors") or []]
        lines += [("edit-note", note) for note in edits.get("notes") or []]
        if len(lines) > 200:  # an answer may write 10,000 files; the diff below lists them all
            lines = lines[:200] + [("edit-note", f"… and {len(lines) - 200} more")]
        return format_html_join("", "<div class='{}'>{}</div>", lines) if lines else "-"

    @admin.display(description="Tests")
    def tests(self, attempt: TicketAttempt) -> SafeString | str:
        if not attempt.test_result:
            return "-"
        return format_html("<details><summary>{}</summary>{}</details>", summarize_tests(attempt.test_result),
                           render_test_result(attempt.test_result))

    @admin.display(description="Told the next attempt")
    def feedback_text(self, attempt: TicketAttempt) -> SafeString | str:
        return preformatted(attempt.feedback, css_class="factory-pre")

    @admin.display(description="Answer")
    def answer(self, attempt: TicketAttempt) -> SafeString | str:
        return preformatted(attempt.response, css_class="factory-pre factory-answer")

    @admin.display(description="Prompt")
    def prompt_text(self, attempt: TicketAttempt) -> SafeString | str:
        if not attempt.prompt:
            return "-"
        return format_html("<details><summary>Prompt sent to the model ({} characters)</summary>{}{}</details>",
                           f"{len(attempt.prompt):,}", format_html_join("", "<p class='help'>{}</p>",
                                                                        ((note,) for note in attempt.prompt_notes or [])),
                           preformatted(attempt.prompt, css_class="factory-pre factory-prompt"))


def summarize_tests(result: SuiteResult | None) -> str:
    if not result:
        return "-"
    return (f"{result.get('passed', 0)} passed, {result.get('failed', 0)} failed, "
            f"{result.get('errors', 0)} errors, {result.get('skipped', 0)} skipped "
            f"in {result.get('duration_s', 0):.1f} s (exit {result.get('exit_code')})")


def render_test_result(result: SuiteResult | None) -> SafeString:
    return mark_safe(render_to_string("admin/tickets/ticket/_test_result.html",  # the template escapes
                                      {"tests": testresults.test_view(result)}))


def results_context(ticket: Ticket) -> dict:
    """What the change page shows below the fields: the highlighted diff and the test result."""
    page = changes.page(ticket)
    return {
        "diff_files": page.files, "diff_stats": page.stats, "hidden_files": page.hidden,
        "raw_diff_url": reverse("review-diff-raw", args=[ticket.pk]),
        "fold_lines": diffview.FOLD_LINES,
        "pygments_css": mark_safe(diffview.pygments_css()),  # generated by Pygments, no user input
        "ticket_tests": render_test_result(ticket.tests_resultado),
    }


class LinesField(SimpleArrayField):
    """A list edited one item per line; blank lines and surrounding spaces are dropped."""

    def to_python(self, value):
        if isinstance(value, str):
            value = "\n".join(line.strip() for line in value.splitlines() if line.strip())
        return super().to_python(value)


class StillEditableForm(forms.ModelForm):
    """Refuses the save when the ticket left the editable states while the form was open (the agent took it)."""

    def clean(self):
        cleaned = super().clean()
        current = Ticket.objects.filter(pk=self.instance.pk).values_list("estado", flat=True).first()
        if current is not None and current not in services.EDITABLE and self.changed_data:
            raise ValidationError(f"Not saved: {NotEditable(current)} (it changed while this page was open; "
                                  "reload it to see the current ticket).")
        return cleaned


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["titulo", "estado", "prioridad", "project", "intentos", "age", "review_link"]
    list_filter = ["estado", "failure_kind", "prioridad", "tipo", "project"]
    search_fields = ["titulo", "descripcion", "id"]
    date_hierarchy = "creado_en"
    list_select_related = ["project"]
    autocomplete_fields = ["depende_de"]
    inlines = [TicketAttemptInline, TicketEventInline]
    actions = ["retry_tickets", "cancel_tickets"]
    fieldsets = [
        (None, {"fields": ["project", "titulo", "descripcion", "tipo", "prioridad", "depende_de"]}),
        ("For the implementer", {"fields": ["archivos_modificar", "archivos_referencia", "patrones_obligatorios",
                                            "contexto_cipher", "tests_requeridos", "tests_codigo"]}),
        ("State", {"fields": ["estado", "intentos", "review_link", "branch_name", "error_mensaje", "failure_kind",
                              "created", "started", "finished"]}),
        # Shown readable below the fields (diff, test table); the stored JSON stays at hand, folded.
        ("Stored results (JSON)", {"fields": ["tests_resultado_pretty", "codigo_generado_pretty"], "classes": ["collapse"]}),
    ]
    readonly_fields = ["estado", "intentos", "branch_name", "error_mensaje", "failure_kind", "created", "started",
                       "finished", "tests_resultado_pretty", "codigo_generado_pretty", "review_link"]

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if isinstance(db_field, ArrayField):
            # One item per line: rules and test cases often contain commas, the default separator.
            validators = [validate_repository_path] if db_field.name.startswith("archivos_") else []
            return LinesField(forms.CharField(validators=validators), delimiter="\n", required=False,
                                    widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                                    help_text="One per line.", label=db_field.verbose_name.capitalize())
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Ticket | None = None):
        if obj is not None and obj.estado not in services.EDITABLE:
            return [*self.readonly_fields, "project", *services.DEFINITION_FIELDS, "depende_de"]
        if obj is not None:
            return [*self.readonly_fields, "project"]
        return self.readonly_fields

    def changelist_view(self, request: HttpRequest, extra_context=None):
        warn_about_agent_health(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        warn_about_agent_health(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(results_context(obj))
        if obj is not None and self.nothing_to_edit(request, obj):
            context.update(title=f"View {self.opts.verbose_name}", show_save=False, show_save_and_continue=False,
                           show_save_and_add_another=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def nothing_to_edit(self, request: HttpRequest, ticket: Ticket) -> bool:
        fields = flatten_fieldsets(self.get_fieldsets(request, ticket))
        return set(fields) <= set(self.get_readonly_fields(request, ticket))

    @admin.display(description="Age", ordering="creado_en")
    def age(self, ticket: Ticket) -> str:
        return timesince(ticket.creado_en, timezone.now())

    @admin.display(description="Review")
    def review_link(self, ticket: Ticket) -> str:
        if ticket.pk is None:
            return "-"
        return format_html('<a href="{}">review page</a>', reverse("review-ticket", args=[ticket.pk]))

    @admin.display(description="Creado en", ordering="creado_en")
    def created(self, ticket: Ticket) -> str:
        return timestamp(ticket.creado_en)

    @admin.display(description="Iniciado en")
    def started(self, ticket: Ticket) -> str:
        return timestamp(ticket.iniciado_en)

    @admin.display(description="Completado en")
    def finished(self, ticket: Ticket) -> str:
        return timestamp(ticket.completado_en)

    @admin.display(description="tests_resultado")
    def tests_resultado_pretty(self, ticket: Ticket) -> str:
        return pretty_json(ticket.tests_resultado)

    @admin.display(description="codigo_generado")
    def codigo_generado_pretty(self, ticket: Ticket) -> str:
        return pretty_json(changes.shown_summary(ticket))  # as the API shows it: no diff text, 500 files

    def get_form(self, request: HttpRequest, obj: Ticket | None = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (StillEditableForm, form), {}) if obj is not None else form

    def save_model(self, request: HttpRequest, obj: Ticket, form, change: bool) -> None:
        # Saving goes through the services so the event log, queueing and
        # state checks are the same as through the API.
        fields = {name: form.cleaned_data[name] for name in services.DEFINITION_FIELDS if name in form.cleaned_data}
        if "tests_codigo" in fields and fields["tests_codigo"] is None:
            fields["tests_codigo"] = {}  # the admin's empty JSON box means no architect-written tests
        if change:
            try:
                services.update_ticket(ticket=obj, actor=roles.signed_in(request.user), changes=fields)
            except TransitionError as exc:  # the agent claimed it between the form check and the save
                setattr(request, NOT_SAVED_ATTRIBUTE, True)
                messages.error(request, f"Not saved: {exc}")
        else:
            ticket, _ = services.create_ticket(actor=roles.signed_in(request.user), project=form.cleaned_data["project"],
                                               fields=fields)
            obj.pk = ticket.pk
            obj._state.adding = False

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        for formset in formsets:  # read-only inlines: nothing to write, but Django's change log reads them
            self.save_formset(request, form, formset, change)
        if "depende_de" in form.cleaned_data and not self.definition_is_locked(form.instance):
            ticket = Ticket.objects.get(pk=form.instance.pk)
            try:
                services.update_ticket(ticket=ticket, actor=roles.signed_in(request.user),
                                       changes={"depende_de": list(form.cleaned_data["depende_de"])})
            except (TransitionError, ValueError) as exc:
                messages.error(request, str(exc))

    def message_user(self, request: HttpRequest, message, level=messages.INFO, *args, **kwargs) -> None:
        if getattr(request, NOT_SAVED_ATTRIBUTE, False) and level == messages.SUCCESS:
            return  # "changed successfully" would contradict the "Not saved" above it
        super().message_user(request, message, level, *args, **kwargs)

    @admin.action(description="Send back to the agent queue (failed or cancelled tickets)")
    def retry_tickets(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._apply(request, queryset, lambda ticket: services.retry(ticket=ticket, actor=roles.signed_in(request.user)))

    @admin.action(description="Cancel")
    def cancel_tickets(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        if not roles.can_review(request.user):
            messages.error(request, "Only users with the 'reviewer' or 'architect' role can cancel tickets.")
            return
        self._apply(request, queryset, lambda ticket: services.cancel(ticket=ticket, actor=roles.signed_in(request.user)))

    @staticmethod
    def definition_is_locked(ticket: Ticket) -> bool:
        return Ticket.objects.filter(pk=ticket.pk).exclude(estado__in=services.EDITABLE).exists()

    def _apply(self, request: HttpRequest, queryset: QuerySet[Ticket], action) -> None:
        done, refused = 0, []
        for ticket in queryset:
            try:
                action(ticket)
                done += 1
            except (TransitionError, PermissionDenied) as exc:
                refused.append(f"{ticket.short_id}: {exc}")
        if done:
            messages.success(request, f"{done} ticket(s) updated.")
        for line in refused:
            messages.warning(request, line)


def warn_about_agent_health(request: HttpRequest) -> None:  # the checks are registered by other apps
    for level, message in health.notices():
        messages.add_message(request, level, message)


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    list_display = ["time", "ticket", "actor", "kind", "from_state", "to_state", "message"]
    list_filter = ["kind", "to_state"]
    search_fields = ["message", "actor", "ticket__titulo"]
    list_select_related = ["ticket"]

    @admin.display(description="Time", ordering="created_at")
    def time(self, event: TicketEvent) -> str:
        return timestamp(event.created_at)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
