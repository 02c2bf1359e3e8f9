"""Reads of projects and tickets, and the filters the API and admin share."""
import django_filters
from django import forms
from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet

from lib.gitrepo import ProjectRepo
from tickets.models import Project, Ticket, TicketAttempt, TicketEvent
from tickets.states import State


class IntegerFilter(django_filters.NumberFilter):
    """A whole number: 2.5 is refused (400), not compared."""

    field_class = forms.IntegerField


class StrictBooleanField(forms.Field):
    def to_python(self, value: str | None) -> bool | None:
        if value in (None, ""):
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """true or false: anything else is refused (400), not read as 'no filter'."""

    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class TicketFilter(django_filters.FilterSet):
    estado = django_filters.MultipleChoiceFilter(choices=State.choices, distinct=False)
    tipo = django_filters.CharFilter()
    prioridad = IntegerFilter()
    prioridad_min = IntegerFilter(field_name="prioridad", lookup_expr="gte")
    prioridad_max = IntegerFilter(field_name="prioridad", lookup_expr="lte")
    project = django_filters.CharFilter(field_name="project__name")
    creado_desde = django_filters.IsoDateTimeFilter(field_name="creado_en", lookup_expr="gte")
    creado_hasta = django_filters.IsoDateTimeFilter(field_name="creado_en", lookup_expr="lte")
    q = django_filters.CharFilter(method="search_text", label="Text in titulo or descripcion")
    ordering = django_filters.OrderingFilter(
        fields=("creado_en", "prioridad", "estado", "titulo", "intentos", "completado_en")
    )

    class Meta:
        model = Ticket
        fields = ["estado", "tipo", "prioridad", "project"]

    def search_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(titulo__icontains=value) | Q(descripcion__icontains=value))


def ticket_list() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("project").prefetch_related(
        Prefetch("depende_de", queryset=Ticket.objects.only("id"))
    )


def ticket_detail(*, ticket_id) -> Ticket:
    return (
        Ticket.objects.select_related("project")
        .prefetch_related("depende_de", Prefetch("events", queryset=TicketEvent.objects.order_by("created_at", "id")))
        .get(pk=ticket_id)
    )


def project_list() -> QuerySet[Project]:
    return Project.objects.all()


def project_repo(project: Project) -> ProjectRepo:
    """The project's cached clone and worktrees under FACTORY_DATA_DIR."""
    return ProjectRepo(data_dir=settings.FACTORY_DATA_DIR, name=project.name, url=project.repo_url,
                       default_branch=project.default_branch)


def only_project() -> Project | None:
    """The project to use when a ticket names none: defined only when exactly one exists."""
    projects = list(Project.objects.all()[:2])
    return projects[0] if len(projects) == 1 else None


def dependency_closure(*, tickets: list[Ticket]) -> set:
    """Ids of the given tickets and everything they depend on, transitively."""
    seen: set = set()
    frontier = {ticket.pk for ticket in tickets}
    while frontier:
        seen |= frontier
        frontier = set(
            Ticket.depende_de.through.objects.filter(from_ticket_id__in=frontier).values_list("to_ticket_id", flat=True)
        ) - seen
    return seen


def review_queue() -> QuerySet[Ticket]:
    """Tickets awaiting a reviewer, the one waiting longest first."""
    return (
        Ticket.objects.filter(estado=State.COMPLETED)
        .select_related("project")
        .order_by(F("completado_en").asc(nulls_first=True), "creado_en")
    )


def review_ticket(*, ticket_id) -> Ticket:
    return (
        Ticket.objects.select_related("project")
        .prefetch_related(
            Prefetch("attempts", queryset=TicketAttempt.objects.order_by("number")),
            Prefetch("events", queryset=TicketEvent.objects.order_by("created_at", "id")),
        )
        .get(pk=ticket_id)
    )


def merge_conflicts(*, ticket: Ticket) -> list[str]:
    """Files that conflicted when the current version of a completed ticket was approved; [] if none."""
    if ticket.estado != State.COMPLETED:
        return []
    events = TicketEvent.objects.filter(ticket_id=ticket.pk, kind=TicketEvent.Kind.MERGE)
    if ticket.completado_en is not None:
        events = events.filter(created_at__gte=ticket.completado_en)
    event = events.order_by("-created_at", "-id").first()
    return list((event.data or {}).get("conflicts", [])) if event is not None else []


def run_attempts(*, ticket: Ticket) -> list[TicketAttempt]:
    """The attempts of the ticket's current run (numbers keep counting across runs)."""
    attempts = TicketAttempt.objects.filter(ticket_id=ticket.pk)
    if ticket.iniciado_en is not None:
        attempts = attempts.filter(started_at__gte=ticket.iniciado_en)
    return list(attempts.order_by("number"))


def tickets_in_order(*, ticket_ids: list) -> list[Ticket]:
    """The tickets with everything the detail serializer shows, in the given order, in a few queries."""
    queryset: QuerySet[Ticket] = (
        Ticket.objects.filter(pk__in=ticket_ids)
        .select_related("project")
        .prefetch_related("depende_de", "attempts",
                          Prefetch("events", queryset=TicketEvent.objects.order_by("created_at", "id")))
    )
    by_id = {ticket.pk: ticket for ticket in queryset}
    return [by_id[ticket_id] for ticket_id in ticket_ids]
