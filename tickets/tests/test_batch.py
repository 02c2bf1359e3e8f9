"""POST /api/factory/tickets/batch: several tickets at once, all or nothing, dependencies by position."""
import uuid

import pytest

from tests.support import SEED_TICKET, client_for, make_user
from tickets import services
from tickets.models import Ticket
from tickets.roles import REVIEWER

pytestmark = pytest.mark.django_db

BATCH_URL = "/api/factory/tickets/batch"


def ticket(titulo: str, **extra) -> dict:
    return {**SEED_TICKET, "titulo": titulo, **extra}


def test_batch_creates_in_order_with_dependencies_by_index_and_by_id(api, project):
    existing = api.post("/api/factory/tickets", ticket("Existing base"), format="json").data["id"]
    response = api.post(BATCH_URL, {"tickets": [
        ticket("Model"),
        ticket("Service", depende_de=[0]),
        ticket("Endpoint", depende_de=[0, 1, existing]),
    ]}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()["tickets"]
    assert [item["titulo"] for item in created] == ["Model", "Service", "Endpoint"]
    model, service, endpoint = (item["id"] for item in created)
    assert service and created[1]["depende_de"] == [model]
    assert set(created[2]["depende_de"]) == {model, service, existing}
    for field, value in SEED_TICKET.items():
        if field != "titulo":
            assert created[0][field] == value, field
    assert created[0]["project"] == "demo"
    assert all(item["estado"] == "pending" for item in created)
    assert "events" in created[0] and created[0]["links"]["self"].endswith(model)
    fetched = api.get(f"/api/factory/tickets/{endpoint}").json()
    assert set(fetched["depende_de"]) == {model, service, existing}
    assert any("item 2 of a batch of 3" in event["message"] for event in fetched["events"])


def test_bare_list_and_trailing_slash_are_accepted(api, project):
    response = api.post(BATCH_URL + "/", [ticket("One"), ticket("Two", depende_de=[0])], format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["tickets"]) == 2


def test_a_bad_item_creates_nothing_and_the_error_names_item_and_field(api, project):
    response = api.post(BATCH_URL, {"tickets": [
        ticket("Fine"),
        ticket("Also fine", depende_de=[0]),
        ticket("Bad priority", prioridad=9),
        ticket("Bad path", archivos_modificar=["../outside.py"], prioridd=1),
    ]}, format="json")
    assert response.status_code == 400
    errors = response.json()["tickets"]
    assert set(errors) == {"2", "3"}
    assert "prioridad" in errors["2"]
    assert set(errors["3"]) == {"archivos_modificar", "prioridd"}
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(("depende_de", "fragment"), [
    ([1], "cannot depend on itself"),
    ([2], "only depend on earlier items"),
    ([-1], "not a position in this batch"),
    ([True], "neither a ticket id"),
    (["not-a-uuid"], "neither a ticket id"),
    ([str(uuid.UUID(int=7))], "Unknown ticket"),
    ("0", "Expected a list"),
])
def test_bad_dependencies_are_refused_with_a_reason(api, project, depende_de, fragment):
    response = api.post(BATCH_URL, [ticket("First"), ticket("Second", depende_de=depende_de), ticket("Third")],
                        format="json")
    assert response.status_code == 400, response.content
    messages = response.json()["tickets"]["1"]["depende_de"]
    assert any(fragment in message for message in messages), messages
    assert Ticket.objects.count() == 0


def test_the_first_item_cannot_point_forward(api, project):
    response = api.post(BATCH_URL, [ticket("First", depende_de=[1]), ticket("Second")], format="json")
    assert response.status_code == 400
    assert "it is the first item" in response.json()["tickets"]["0"]["depende_de"][0]


@pytest.mark.parametrize("body", [{}, {"tickets": []}, {"tickets": "x"}, [], "text", {"tickets": [1]},
                                  {"tickets": [SEED_TICKET], "extra": 1}])
def test_malformed_bodies_are_400_not_500(api, project, body):
    response = api.post(BATCH_URL, body, format="json")
    assert response.status_code == 400, response.content
    assert Ticket.objects.count() == 0


def test_batch_size_is_limited(api, project):
    response = api.post(BATCH_URL, [ticket(f"T{index}") for index in range(101)], format="json")
    assert response.status_code == 400
    assert "At most 100" in response.json()["tickets"][0]


def test_project_per_ticket_or_batch_default(api, project):
    services.create_project(name="other", repo_url="/tmp/other", test_command="true")
    missing = api.post(BATCH_URL, [ticket("No project")], format="json")
    assert missing.status_code == 400
    assert "there are 2 projects" in missing.json()["tickets"]["0"]["project"][0]
    response = api.post(BATCH_URL, {"project": "other", "tickets": [
        ticket("Defaulted"), ticket("Named", project="demo"),
    ]}, format="json")
    assert response.status_code == 201, response.content
    assert [item["project"] for item in response.json()["tickets"]] == ["other", "demo"]
    unknown = api.post(BATCH_URL, {"project": "nope", "tickets": [ticket("X")]}, format="json")
    assert unknown.status_code == 400
    assert "nope" in unknown.json()["project"][0]
    bad_item_project = api.post(BATCH_URL, [ticket("X", project="nope")], format="json")
    assert "project" in bad_item_project.json()["tickets"]["0"]


def test_idempotency_key_replays_the_same_batch(api, project):
    body = {"tickets": [ticket("A"), ticket("B", depende_de=[0])]}
    first = api.post(BATCH_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="plan-42")
    again = api.post(BATCH_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="plan-42")
    assert first.status_code == again.status_code == 201
    assert [item["id"] for item in first.json()["tickets"]] == [item["id"] for item in again.json()["tickets"]]
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 2
    different = api.post(BATCH_URL, {"tickets": [ticket("A")]}, format="json", HTTP_IDEMPOTENCY_KEY="plan-42")
    assert different.status_code == 422
    assert "different batch" in different.json()["detail"]
    # The same key for a single ticket is a separate namespace.
    single = api.post("/api/factory/tickets", ticket("A"), format="json", HTTP_IDEMPOTENCY_KEY="plan-42")
    assert single.status_code == 201
    assert Ticket.objects.count() == 3


def test_only_ready_tickets_are_queued(api, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = api.post(BATCH_URL, [ticket("Base"), ticket("Waits", depende_de=[0])], format="json")
    assert response.status_code == 201
    base, waits = (Ticket.objects.get(pk=item["id"]) for item in response.json()["tickets"])
    assert base.queued_at is not None
    assert waits.queued_at is None


def test_architect_role_is_required(project, db):
    reviewer = client_for(make_user("rev", role=REVIEWER))
    assert reviewer.post(BATCH_URL, [ticket("X")], format="json").status_code == 403
    outsider = client_for(make_user("nobody"))
    assert outsider.post(BATCH_URL, [ticket("X")], format="json").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().post(BATCH_URL, [ticket("X")], format="json").status_code == 401
    assert Ticket.objects.count() == 0


def test_batch_endpoint_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/factory/tickets/batch/" in schema.json()["paths"]


def test_each_item_reports_only_its_own_problems(api, project):
    services.create_project(name="other", repo_url="/tmp/other", test_command="true")
    response = api.post(BATCH_URL, [ticket("Named", project="demo"), ticket("Bad dep", project="demo",
                                                                            depende_de=[5])], format="json")
    assert response.status_code == 400
    assert response.json() == {"tickets": {"1": {"depende_de": [
        "Item 5 comes after item 1; a ticket can only depend on earlier items of the batch (item 0). "
        "Reorder the batch so dependencies come first."]}}}


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_batch(architect, project):
    import threading

    from django.db import connection

    body = {"tickets": [ticket("A"), ticket("B", depende_de=[0]), ticket("C", depende_de=[1])]}
    barrier, answers = threading.Barrier(2), []

    def post() -> None:
        client = client_for(architect)
        barrier.wait()
        answers.append(client.post(BATCH_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="race-1"))
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [201, 201]
    first, second = ([item["id"] for item in answer.json()["tickets"]] for answer in answers)
    assert first == second
    assert sorted(answer.get("Idempotent-Replayed", "") for answer in answers) == ["", "true"]
    assert Ticket.objects.count() == 3
