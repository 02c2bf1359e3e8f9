"""Whole flows through the HTTP API: create, read, list, filter, edit, state changes."""
import uuid

import pytest
from rest_framework.test import APIClient

from tests.support import SEED_TICKET, client_for, make_remote_repo, make_user
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_seed_ticket_round_trips_with_every_field(api, project):
    created = api.post("/api/factory/tickets", SEED_TICKET, format="json")
    assert created.status_code == 201, created.content
    fetched = api.get(f"/api/factory/tickets/{created.data['id']}")
    assert fetched.status_code == 200
    for field, value in SEED_TICKET.items():
        assert fetched.data[field] == value, field
    assert fetched.data["project"] == "demo"
    assert fetched.data["estado"] == "pending"
    assert fetched.data["intentos"] == 0
    assert fetched.data["events"][0]["kind"] == "created"
    for field in ("branch_name", "codigo_generado", "tests_resultado", "error_mensaje", "creado_en",
                  "iniciado_en", "completado_en", "depende_de", "links", "attempts"):
        assert field in fetched.data


def test_architect_written_tests_are_taken_and_read_back(api, project):
    tests = {"tests/test_slug.py": "from text import slugify\n\n\ndef test_slugify():\n    assert slugify('A b') == 'a-b'\n"}
    created = api.post("/api/factory/tickets", {**SEED_TICKET, "tests_codigo": tests}, format="json")
    assert created.status_code == 201, created.content
    assert api.get(f"/api/factory/tickets/{created.data['id']}").data["tests_codigo"] == tests
    assert Ticket.objects.get(pk=created.data["id"]).tests_codigo == tests


def test_routes_answer_with_and_without_trailing_slash(api, project):
    assert api.get("/api/factory/tickets").status_code == 200
    assert api.get("/api/factory/tickets/").status_code == 200
    created = api.post("/api/factory/tickets/", SEED_TICKET, format="json")
    assert created.status_code == 201
    assert api.get(f"/api/factory/tickets/{created.data['id']}/").status_code == 200
    assert api.get("/api/factory/projects/").status_code == 200


def test_project_is_required_when_several_exist(api, project):
    services.create_project(name="other", repo_url="/tmp/other", test_command="true")
    response = api.post("/api/factory/tickets", SEED_TICKET, format="json")
    assert response.status_code == 400
    assert "project" in response.data
    named = api.post("/api/factory/tickets", {**SEED_TICKET, "project": "other"}, format="json")
    assert named.status_code == 201
    assert named.data["project"] == "other"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prioridad": 9}, "prioridad"),
        ({"prioridad": "alta"}, "prioridad"),
        ({"prioridad": True}, "prioridad"),
        ({"titulo": "x" * 201}, "titulo"),
        ({"titulo": ""}, "titulo"),
        ({"archivos_modificar": "not-a-list"}, "archivos_modificar"),
        ({"archivos_modificar": ["/etc/passwd"]}, "archivos_modificar"),
        ({"archivos_referencia": ["src/../../secret.py"]}, "archivos_referencia"),
        ({"project": "nope"}, "project"),
        ({"depende_de": [str(uuid.uuid4())]}, "depende_de"),
        ({"depende_de": ["not-a-uuid"]}, "depende_de"),
        ({"tests_requeridos": [{"a": 1}]}, "tests_requeridos"),
        ({"prioridd": 2}, "prioridd"),
        ({"estado": "merged"}, "estado"),
        ({"tests_codigo": ["tests/test_a.py"]}, "tests_codigo"),
        ({"tests_codigo": {"../outside/test_a.py": "x"}}, "tests_codigo"),
        ({"tests_codigo": {".git/hooks/test_a.py": "x"}}, "tests_codigo"),
        ({"tests_codigo": {"tests/test_a.py": 1}}, "tests_codigo"),
        ({"tests_codigo": {"tests/test_a.py": "x" * 200_001}}, "tests_codigo"),
        ({"tests_codigo": {f"tests/test_{n}.py": "x" for n in range(51)}}, "tests_codigo"),
    ],
)
def test_bad_input_names_the_field(api, project, change, field):
    response = api.post("/api/factory/tickets", {**SEED_TICKET, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_malformed_json_and_non_object_bodies_are_400(api, project):
    broken = api.generic("POST", "/api/factory/tickets", "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert "detail" in broken.json()
    listed = api.post("/api/factory/tickets", [SEED_TICKET], format="json")
    assert listed.status_code == 400


def test_unknown_ticket_is_404_not_500(api, project):
    assert api.get(f"/api/factory/tickets/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/factory/tickets/not-a-uuid").status_code == 404
    assert api.patch("/api/factory/tickets/not-a-uuid", {"prioridad": 1}, format="json").status_code == 404


def test_idempotency_key_returns_the_first_ticket(api, project):
    first = api.post("/api/factory/tickets", SEED_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = api.post("/api/factory/tickets", SEED_TICKET, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == again.status_code == 201
    assert first.data["id"] == again.data["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    different = api.post("/api/factory/tickets", {**SEED_TICKET, "prioridad": 5}, format="json",
                         HTTP_IDEMPOTENCY_KEY="batch-1")
    assert different.status_code == 422
    assert Ticket.objects.count() == 1


def test_list_filters_search_ordering_and_pagination(api, project):
    for index in range(7):
        api.post("/api/factory/tickets", {**SEED_TICKET, "titulo": f"Ticket {index}", "prioridad": 1 + index % 5,
                                          "tipo": "bugfix" if index % 2 else "feature"}, format="json")
    api.post("/api/factory/tickets", {**SEED_TICKET, "titulo": "Exportar CSV", "descripcion": "usa csv.writer"},
             format="json")
    listed = api.get("/api/factory/tickets", {"page_size": 3})
    assert listed.data["count"] == 8
    assert len(listed.data["results"]) == 3
    assert listed.data["next"]
    assert api.get("/api/factory/tickets", {"prioridad": 2}).data["count"] == 3  # 1, 6 and the CSV one
    assert api.get("/api/factory/tickets", {"tipo": "bugfix"}).data["count"] == 3
    assert api.get("/api/factory/tickets", {"q": "csv.writer"}).data["results"][0]["titulo"] == "Exportar CSV"
    assert api.get("/api/factory/tickets", {"project": "demo", "estado": "pending"}).data["count"] == 8
    ordered = api.get("/api/factory/tickets", {"ordering": "prioridad"}).data["results"]
    assert [row["prioridad"] for row in ordered] == sorted(row["prioridad"] for row in ordered)
    assert api.get("/api/factory/tickets", {"creado_desde": "2999-01-01T00:00:00Z"}).data["count"] == 0
    assert api.get("/api/factory/tickets", {"estado": "bogus"}).status_code == 400
    assert api.get("/api/factory/tickets?estado=pending,completed").data["count"] == 8
    assert api.get("/api/factory/tickets?estado=completed&estado=pending").data["count"] == 8
    assert api.get("/api/factory/tickets?estado=completed,failed").data["count"] == 0
    assert "bogus" in str(api.get("/api/factory/tickets?estado=pending,bogus").data["estado"])
    assert api.get("/api/factory/tickets", {"creado_desde": "yesterday"}).status_code == 400


def test_patch_edits_fields_then_illegal_transition_is_409(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    edited = api.patch(f"/api/factory/tickets/{ticket_id}", {"prioridad": 1, "titulo": "Nuevo"}, format="json")
    assert edited.status_code == 200
    assert (edited.data["prioridad"], edited.data["titulo"]) == (1, "Nuevo")
    assert edited.data["events"][-1]["kind"] == "updated"
    illegal = api.patch(f"/api/factory/tickets/{ticket_id}", {"estado": "merged"}, format="json")
    assert illegal.status_code == 409
    assert "pending" in illegal.data["detail"] and "merged" in illegal.data["detail"]
    agent_only = api.patch(f"/api/factory/tickets/{ticket_id}", {"estado": "completed"}, format="json")
    assert agent_only.status_code == 409
    assert api.patch(f"/api/factory/tickets/{ticket_id}", {"prioridad": 0}, format="json").status_code == 400


def test_cancel_and_reopen_through_patch(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    cancelled = api.patch(f"/api/factory/tickets/{ticket_id}", {"estado": "cancelled"}, format="json")
    assert cancelled.status_code == 200
    assert cancelled.data["estado"] == "cancelled"
    reopened = api.patch(f"/api/factory/tickets/{ticket_id}", {"estado": "pending"}, format="json")
    assert reopened.data["estado"] == "pending"
    moves = [(event["from_state"], event["to_state"]) for event in reopened.data["events"] if event["kind"] == "state"]
    assert moves == [("pending", "cancelled"), ("cancelled", "pending")]


def test_a_comentario_without_a_change_of_state_is_recorded_as_a_comment(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    for body in ({"comentario": "Check the tenant first."},
                 {"estado": "pending", "comentario": "Still wanted."},
                 {"prioridad": 1, "comentario": "More urgent now."}):
        response = api.patch(f"/api/factory/tickets/{ticket_id}", body, format="json")
        assert response.status_code == 200, response.data
        assert response.data["estado"] == "pending"
    comments = [(event["message"], event["actor"]) for event in response.data["events"] if event["kind"] == "comment"]
    assert comments == [("Check the tenant first.", "architect"), ("Still wanted.", "architect"),
                        ("More urgent now.", "architect")]
    assert api.patch(f"/api/factory/tickets/{ticket_id}", {"comentario": "  "}, format="json").status_code == 400


def test_a_comentario_goes_with_the_state_change_it_explains(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    response = api.patch(f"/api/factory/tickets/{ticket_id}", {"estado": "cancelled", "comentario": "Duplicate."},
                         format="json")
    assert response.status_code == 200
    assert response.data["events"][-1]["message"] == "Duplicate."
    assert [event for event in response.data["events"] if event["kind"] == "comment"] == []


def test_in_progress_ticket_cannot_be_edited(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    services.transition(ticket=Ticket.objects.get(pk=ticket_id), to="in_progress", actor="agent")
    response = api.patch(f"/api/factory/tickets/{ticket_id}", {"titulo": "late change"}, format="json")
    assert response.status_code == 409


def test_dependencies_are_stored_and_cycles_refused(api, project):
    first = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    second = api.post("/api/factory/tickets", {**SEED_TICKET, "depende_de": [first]}, format="json").data
    assert second["depende_de"] == [first]
    cycle = api.patch(f"/api/factory/tickets/{first}", {"depende_de": [second["id"]]}, format="json")
    assert cycle.status_code == 400
    assert "depende_de" in cycle.data


def test_projects_api(api, db, tmp_path):
    remote = make_remote_repo(tmp_path, {"package.json": "{}"})
    created = api.post("/api/factory/projects", {"name": "web", "repo_url": str(remote),
                                                 "test_command": "npm test"}, format="json")
    assert created.status_code == 201
    assert created.data["default_branch"] == "main"
    duplicate = api.post("/api/factory/projects", {"name": "web", "repo_url": "x", "test_command": "y"},
                         format="json")
    assert duplicate.status_code == 400
    bad = api.post("/api/factory/projects", {"name": "has spaces", "repo_url": "x", "test_command": "y"},
                   format="json")
    assert bad.status_code == 400 and "name" in bad.data
    assert [row["name"] for row in api.get("/api/factory/projects").data] == ["web"]


def test_the_projects_api_refuses_unknown_fields_by_name(api, project, tmp_path):
    remote = make_remote_repo(tmp_path / "other", {"app.py": "x = 1\n"})
    created = api.post("/api/factory/projects", {"name": "web", "repo_url": str(remote), "test_command": "pytest",
                                                 "quick_test_cmd": "pytest {files}"}, format="json")
    assert created.status_code == 400 and created.data["quick_test_cmd"] == ["Unknown field."]
    assert api.get("/api/factory/projects/web").status_code == 404
    patched = api.patch("/api/factory/projects/demo", {"quick_test_cmd": "pytest -q {files}", "candidates": 0},
                        format="json")
    assert patched.status_code == 400
    assert patched.data["quick_test_cmd"] == ["Unknown field."]
    assert "candidates" in patched.data
    stored = api.get("/api/factory/projects/demo").data
    assert (stored["quick_test_command"], stored["candidates"]) == ("", None)
    spelled = api.patch("/api/factory/projects/demo", {"quick_test_command": "pytest -q {files}"}, format="json")
    assert spelled.status_code == 200 and spelled.data["quick_test_command"] == "pytest -q {files}"
    # What GET answered, sent back as it is (created_at and the masked repo_url included), is taken.
    round_trip = api.patch("/api/factory/projects/demo", {**stored, "candidates": 2}, format="json")
    assert round_trip.status_code == 200, round_trip.data
    assert round_trip.data["candidates"] == 2 and round_trip.data["created_at"] == stored["created_at"]


def test_a_project_is_created_with_its_model_strategy_and_memory_language(api, db, tmp_path):
    remote = make_remote_repo(tmp_path, {"app.py": "x = 1\n"})
    fields = {"name": "strategy", "repo_url": str(remote), "test_command": "pytest -q", "candidates": 3,
              "escalation": ["qwen2.5-coder:32b", "hf.co/org/repo:Q4_K_M"], "memory_language": "spanish"}
    created = api.post("/api/factory/projects", fields, format="json")
    assert created.status_code == 201, created.data
    stored = api.get("/api/factory/projects/strategy").data
    assert (stored["candidates"], stored["escalation"], stored["memory_language"]) == (
        3, ["qwen2.5-coder:32b", "hf.co/org/repo:Q4_K_M"], "spanish")


def test_a_model_name_ollama_cannot_have_is_refused_by_name(api, db, tmp_path):
    remote = make_remote_repo(tmp_path, {"app.py": "x = 1\n"})
    for name in ["\u0003-", "qwen coder", "a:b:c", "model\nx"]:
        refused = api.post("/api/factory/projects", {"name": "odd", "repo_url": str(remote), "test_command": "t",
                                                     "escalation": [name]}, format="json")
        assert refused.status_code == 400 and "escalation" in refused.data, name


def test_anonymous_and_outsiders_are_refused(db, project):
    anonymous = APIClient().get("/api/factory/tickets")
    assert anonymous.status_code == 401
    assert "detail" in anonymous.json()
    outsider = client_for(make_user("outsider"))
    assert outsider.get("/api/factory/tickets").status_code == 200
    refused = outsider.post("/api/factory/tickets", SEED_TICKET, format="json")
    assert refused.status_code == 403
    assert "architect" in refused.json()["detail"]


def test_the_api_root_lists_where_to_start_and_the_front_page_leads_to_the_review_queue(db):
    root = APIClient().get("/api/factory/")
    assert root.status_code == 200
    links = root.json()
    assert links["tickets"] == "http://testserver/api/factory/tickets" and links["docs"].endswith("/api/docs/")
    assert "Token" in links["authentication"]
    front = APIClient().get("/")
    assert front.status_code == 302 and front["Location"] == "/review/"


def test_openapi_schema_and_docs_page(api, db):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/factory/tickets" in str(schema.content)
    assert api.get("/api/docs/").status_code == 200


def test_factory_token_command_prints_the_key_last(db, capsys):
    from django.core.management import call_command

    call_command("factory_token", "claude", "--role", "architect")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/factory/tickets").status_code == 200
    call_command("factory_token", "claude", "--role", "reviewer")
    said = capsys.readouterr()
    assert said.out.strip() == key  # the same token
    assert "given role 'reviewer'; roles now: architect, reviewer" in said.err


def test_wrong_types_are_refused_not_coerced(api, project):
    for change, field in (({"titulo": 123}, "titulo"), ({"prioridad": "3"}, "prioridad"),
                          ({"patrones_obligatorios": [1, 2]}, "patrones_obligatorios")):
        response = api.post("/api/factory/tickets", {**SEED_TICKET, **change}, format="json")
        assert response.status_code == 400 and field in response.json(), change


def test_nul_bytes_are_400_not_500(api, project):
    assert api.get("/api/factory/projects/de%00mo").status_code in (400, 404)
    response = api.post("/api/factory/tickets", {**SEED_TICKET, "descripcion": "a\x00b"}, format="json")
    assert response.status_code == 400


def test_patch_is_all_or_nothing(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    refused = api.patch(f"/api/factory/tickets/{ticket_id}", {"titulo": "changed", "estado": "merged"},
                        format="json")
    assert refused.status_code == 409
    assert api.get(f"/api/factory/tickets/{ticket_id}").data["titulo"] == SEED_TICKET["titulo"]


def test_a_running_ticket_cannot_be_sent_back_to_the_queue(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    services.transition(ticket=Ticket.objects.get(pk=ticket_id), to="in_progress", actor="agent")
    response = api.patch(f"/api/factory/tickets/{ticket_id}", {"estado": "pending"}, format="json")
    assert response.status_code == 409
    assert "cancel it first" in response.data["detail"]


def test_projects_cannot_be_renamed(api, project):
    response = api.patch("/api/factory/projects/demo", {"name": "other"}, format="json")
    assert response.status_code == 400 and "name" in response.data
    assert api.patch("/api/factory/projects/demo", {"test_command": "pytest"}, format="json").status_code == 200


def test_editing_a_completed_ticket_says_it_is_not_editable(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    ticket = Ticket.objects.get(pk=ticket_id)
    for state in ("in_progress", "completed"):
        ticket = services.transition(ticket=ticket, to=state, actor="test")
    response = api.patch(f"/api/factory/tickets/{ticket_id}", {"prioridad": 1}, format="json")
    assert response.status_code == 409
    assert "A ticket in 'completed' is not editable" in response.data["detail"]
    assert "to 'completed'" not in response.data["detail"]


@pytest.mark.parametrize("path", [".git/config", "src/.git/hooks/pre-commit", ".git"])
def test_paths_inside_git_are_refused_when_the_ticket_is_created(api, project, path):
    response = api.post("/api/factory/tickets", {**SEED_TICKET, "archivos_modificar": [path]}, format="json")
    assert response.status_code == 400
    assert "inside .git" in str(response.data["archivos_modificar"])
