"""Floors for bench/api.py: bare Django views that run the same queries as the API, and nothing else.

No authentication, no serializer, no validation, no event log: the query, the rows as JSON. They are mounted
under /bench/floor/ beside the project's own URLs (this module is the ROOT_URLCONF of a benchmark run), so a
request to either goes through the same middleware, in the same process, on the same database.
"""
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_q.models import OrmQ

from tickets.models import Ticket, TicketAttempt, TicketEvent

LIST_COLUMNS = ("id", "project__name", "titulo", "descripcion", "tipo", "prioridad", "archivos_modificar",
                "archivos_referencia", "patrones_obligatorios", "tests_requeridos", "estado", "intentos",
                "branch_name", "tests_resultado", "error_mensaje", "creado_en", "iniciado_en", "completado_en")
DETAIL_COLUMNS = (*LIST_COLUMNS, "codigo_generado", "contexto_cipher")
EVENT_COLUMNS = ("created_at", "actor", "kind", "from_state", "to_state", "message", "data")
ATTEMPT_COLUMNS = ("number", "outcome", "phase", "model_name", "edit_format", "edit_results", "test_result",
                   "candidates", "feedback", "prompt_notes", "prompt_tokens", "eval_tokens", "model_seconds",
                   "model_host", "test_seconds", "started_at", "finished_at")
WRITE_FIELDS = ("titulo", "descripcion", "tipo", "prioridad", "archivos_modificar", "archivos_referencia",
                "patrones_obligatorios", "contexto_cipher", "tests_requeridos")


def as_json(body, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, encoder=DjangoJSONEncoder, safe=False)


def dependencies_of(ticket_ids: list) -> dict:
    found: dict = {ticket_id: [] for ticket_id in ticket_ids}
    rows = Ticket.depende_de.through.objects.filter(from_ticket_id__in=ticket_ids)
    for source, target in rows.values_list("from_ticket_id", "to_ticket_id"):
        found[source].append(str(target))
    return found


def ticket_list(request: HttpRequest) -> JsonResponse:
    """The API list's page query, same filter and order, same page; its rows and their dependencies."""
    size = int(request.GET.get("page_size", 50))
    offset = (int(request.GET.get("page", 1)) - 1) * size
    rows = Ticket.objects.filter(estado=request.GET["estado"], prioridad=int(request.GET["prioridad"]))
    page = list(rows.order_by("-creado_en").values(*LIST_COLUMNS)[offset:offset + size])
    dependencies = dependencies_of([row["id"] for row in page])
    for row in page:
        row["depende_de"] = dependencies[row["id"]]
    return as_json({"results": page})


def ticket_detail(request: HttpRequest, ticket_id: str) -> JsonResponse:
    """One ticket with what the API's detail shows: its dependencies, events and attempts, each fetched once."""
    row = Ticket.objects.values(*DETAIL_COLUMNS).get(pk=ticket_id)
    row["depende_de"] = dependencies_of([row["id"]])[row["id"]]
    row["events"] = list(TicketEvent.objects.filter(ticket_id=ticket_id).order_by("created_at", "id")
                         .values(*EVENT_COLUMNS))
    row["attempts"] = list(TicketAttempt.objects.filter(ticket_id=ticket_id).order_by("number")
                           .values(*ATTEMPT_COLUMNS))
    return as_json(row)


@csrf_exempt
def ticket_create(request: HttpRequest, project_id: int) -> JsonResponse:
    """One INSERT in one transaction, the row back as JSON."""
    body = json.loads(request.body)
    with transaction.atomic():
        ticket = Ticket.objects.create(project_id=project_id,
                                       **{name: value for name, value in body.items() if name in WRITE_FIELDS})
    row = {name: getattr(ticket, name) for name in (*WRITE_FIELDS, "id", "estado", "creado_en")}
    return as_json(row, status=201)


@csrf_exempt
def ticket_create_same_writes(request: HttpRequest, project_id: int) -> JsonResponse:
    """The rows the API's POST writes, in one transaction: the ticket, its creation event, its queue entry."""
    body = json.loads(request.body)
    with transaction.atomic():
        ticket = Ticket.objects.create(project_id=project_id, queued_at=timezone.now(),
                                       **{name: value for name, value in body.items() if name in WRITE_FIELDS})
        TicketEvent.objects.create(ticket=ticket, actor="bench", kind="created", to_state=ticket.estado)
        OrmQ.objects.create(key="bench-floor", payload=str(ticket.pk), lock=timezone.now())
    row = {name: getattr(ticket, name) for name in (*WRITE_FIELDS, "id", "estado", "creado_en")}
    return as_json(row, status=201)


urlpatterns = [
    path("bench/floor/tickets", ticket_list),
    path("bench/floor/tickets/<uuid:ticket_id>", ticket_detail),
    path("bench/floor/projects/<int:project_id>/tickets", ticket_create),
    path("bench/floor/projects/<int:project_id>/tickets-same-writes", ticket_create_same_writes),
    path("", include("factory_site.urls")),
]
