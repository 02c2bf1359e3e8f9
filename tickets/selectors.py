"""Reads of projects and tickets, and the filters the API and admin share."""
from typing import TypeVar

import django_filters
from django import forms
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import QueryDict

from tickets.models import FailureKind, Project, Ticket, TicketAttempt, TicketEvent
from tickets.states import State

Copied = TypeVar("Copied")


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


class CommaSeparatedChoiceField(forms.MultipleChoiceField):
    """`estado=pending,completed` and `estado=pending&estado=completed` mean the same."""

    def to_python(self, value) -> list[str]:
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class CommaSeparatedChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaSeparatedChoiceField


class TicketFilter(django_filters.FilterSet):
    estado = CommaSeparatedChoiceFilter(choices=State.choices, distinct=False,
                                        help_text="One state, several separated by commas, or estado repeated.")
    failure_kind = CommaSeparatedChoiceFilter(choices=FailureKind.choices, distinct=False,
                                              help_text="Why the ticket failed or waits; several separated by commas.")
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

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None) -> None:
        """django-filter's own, with shallow copies of the filters instead of deep ones (a tenth of a list
        request's time): a filter keeps nothing of a request but the parent and model set here."""
        if queryset is None:
            queryset = Ticket.objects.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset, self.request, self.form_prefix = queryset, request, prefix
        self.filters = {name: shallow_copy(base) for name, base in self.base_filters.items()}
        for ticket_filter in self.filters.values():
            ticket_filter.model, ticket_filter.parent = queryset.model, self
            if ticket_filter.method is not None:
                ticket_filter.method = ticket_filter.method  # a FilterMethod bound to this copy, not the base

    def get_form_class(self):
        """Made once per process: the filters' form fields depend on nothing in the request."""
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = type(self)._form_class = with_shared_fields(super().get_form_class())
        return form_class

    def search_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(titulo__icontains=value) | Q(descripcion__icontains=value))


def shallow_copy(item: Copied) -> Copied:
    """copy.copy without its __reduce_ex__ detour (eleven filters per request)."""
    clone = object.__new__(type(item))
    clone.__dict__.update(item.__dict__)
    return clone


def with_shared_fields(form_class: type[forms.Form]) -> type[forms.Form]:
    """The filter form without Django's deep copy of its fields per form: the filters' fields are only read
    (to clean the query's values), never changed for one request."""
    fields = form_class.base_fields

    class SharedFieldsForm(form_class):  # type: ignore[valid-type,misc]  # a class made at run time
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.fields = dict(fields)

    SharedFieldsForm.base_fields = {}  # what BaseForm.__init__ deep-copies
    return SharedFieldsForm


# What a ticket's serializers read from it; set on tickets this module (or remember_new_ticket) loaded.
DEPENDENCY_IDS = "dependency_ids"


def with_dependency_ids(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Each ticket's depende_de ids in the ticket's own row (newest first, as the relation is ordered)."""
    through = Ticket.depende_de.through.objects.filter(from_ticket_id=OuterRef("pk"))
    return queryset.annotate(**{DEPENDENCY_IDS: ArraySubquery(
        through.order_by("-to_ticket__creado_en", "to_ticket_id").values("to_ticket_id"))})


# The columns of a list row (TicketListSerializer reads rows, not model instances).
LIST_COLUMNS = ("id", "titulo", "descripcion", "tipo", "prioridad", "archivos_modificar", "archivos_referencia",
                "patrones_obligatorios", "tests_requeridos", "estado", "intentos", "branch_name", "tests_resultado",
                "error_mensaje", "failure_kind", "creado_en", "iniciado_en", "completado_en")
PROJECT_NAME = "project_name"


def ticket_list() -> QuerySet:
    """Rows (dicts) for the list, one query per page: the ticket's columns, its project's name and its
    dependencies' ids. No model instances: a page of 50 would spend more on building them than on the query.

    The project's name is a subquery, not a join, so that counting the rows reads only the tickets' index.
    """
    if not _list_queryset:  # built once: its subqueries' construction cost more than the page's query
        project_name = Subquery(Project.objects.filter(pk=OuterRef("project_id")).values("name"))
        _list_queryset.append(with_dependency_ids(Ticket.objects.all()).annotate(**{PROJECT_NAME: project_name})
                              .values(*LIST_COLUMNS, PROJECT_NAME, DEPENDENCY_IDS))
    return _list_queryset[0].all()


_list_queryset: list[QuerySet] = []


def ticket_detail(*, ticket_id) -> Ticket:
    """The ticket with everything the detail serializer shows, in three queries."""
    return with_dependency_ids(Ticket.objects.select_related("project")).prefetch_related(
        Prefetch("events", queryset=TicketEvent.objects.order_by("created_at", "id")),
        Prefetch("attempts", queryset=TicketAttempt.objects.order_by("number")),
    ).get(pk=ticket_id)


def remember_new_ticket(*, ticket: Ticket, dependencies: list[Ticket], events: list[TicketEvent]) -> Ticket:
    """What a ticket just created in this transaction holds, set on it, so that showing it needs no reload.

    Like any prefetched relation it is a snapshot: events written to it later are not in `ticket.events.all()`.
    """
    newest_first = sorted(dependencies, key=lambda dependency: dependency.creado_en, reverse=True)
    setattr(ticket, DEPENDENCY_IDS, [dependency.pk for dependency in newest_first])
    # Django's own prefetch cache, which django-stubs do not declare
    ticket._prefetched_objects_cache = {  # type: ignore[attr-defined]
        "events": known_rows(ticket.events.all(), list(events)), "attempts": known_rows(ticket.attempts.all(), [])}
    return ticket


def known_rows(queryset: QuerySet, rows: list) -> QuerySet:
    """`queryset` already evaluated to `rows`, as Django's own prefetching leaves it: iterating it needs no
    query, while .filter() and the like still build a fresh one (a plain list would break them)."""
    queryset._result_cache = rows
    queryset._prefetch_done = True  # type: ignore[attr-defined]  # Django's own flag, not in django-stubs
    return queryset


def project_list() -> QuerySet[Project]:
    return Project.objects.all()


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
        with_dependency_ids(Ticket.objects.filter(pk__in=ticket_ids).select_related("project"))
        .prefetch_related(Prefetch("attempts", queryset=TicketAttempt.objects.order_by("number")),
                          Prefetch("events", queryset=TicketEvent.objects.order_by("created_at", "id")))
    )
    by_id = {ticket.pk: ticket for ticket in queryset}
    return [by_id[ticket_id] for ticket_id in ticket_ids]
