"""The Django admin: tickets are created and edited through the same services as the API."""
import pytest
from django.test import Client

from tests.conftest import make_user
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> Client:
    user = make_user("boss", staff=True)
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def ticket_form(project, **overrides) -> dict:
    form = {"project": project.pk, "titulo": "From the admin", "descripcion": "Made by hand", "tipo": "feature",
            "prioridad": 2, "archivos_modificar": "app.py", "archivos_referencia": "", "patrones_obligatorios": "",
            "contexto_cipher": "", "tests_requeridos": "", "_save": "Save"}
    for prefix in ("attempts", "events"):
        form.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0, f"{prefix}-MIN_NUM_FORMS": 0,
                     f"{prefix}-MAX_NUM_FORMS": 1000})
    form.update(overrides)
    return form


def test_add_and_edit_a_ticket_in_the_admin(admin_client, project):
    added = admin_client.post("/admin/tickets/ticket/add/", ticket_form(project))
    assert added.status_code == 302, added.content[:2000]
    ticket = Ticket.objects.get()
    assert ticket.events.filter(kind="created").exists() and ticket.queued_at is not None
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert page.status_code == 200 and b"review page" in page.content
    edited = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", ticket_form(
        project, titulo="Edited", prioridad=1, patrones_obligatorios="Use ints, never floats\r\nNo classes\r\n"))
    assert edited.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.titulo, ticket.prioridad) == ("Edited", 1)
    assert ticket.patrones_obligatorios == ["Use ints, never floats", "No classes"]
    assert ticket.events.filter(kind="updated").exists()


def test_admin_lists_filters_and_shows_model_health(admin_client, project):
    services.create_ticket(actor=None, project=project, fields={"titulo": "Listed", "descripcion": "d"})
    from agent.services import record_health

    record_health(key="model", ok=False, message="Ollama is unreachable at http://127.0.0.1:9")
    page = admin_client.get("/admin/tickets/ticket/?estado__exact=pending&q=Listed")
    assert page.status_code == 200
    assert b"Listed" in page.content and b"The model is unreachable" in page.content
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/admin/tickets/project/").status_code == 200
    assert admin_client.get("/admin/memory/memoryitem/").status_code == 200


def test_admin_refuses_paths_outside_the_repository(admin_client, project):
    response = admin_client.post("/admin/tickets/ticket/add/", ticket_form(project, archivos_modificar="../../etc/passwd"))
    assert response.status_code == 200 and b"contains &#x27;..&#x27;" in response.content
    assert not Ticket.objects.exists()


def test_saving_a_ticket_the_agent_took_meanwhile_says_only_not_saved(admin_client, project):
    from agent.services import claim_ticket

    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Open", "descripcion": "d"})
    assert admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").status_code == 200
    claim_ticket(ticket_id=str(ticket.pk))  # the agent takes it while the form is open
    response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/",
                                 ticket_form(project, titulo="Edited meanwhile"), follow=True)
    page = response.content.decode()
    assert "Not saved" in page and "is not editable" in page
    assert "was changed successfully" not in page
    ticket.refresh_from_db()
    assert ticket.titulo == "Open"
