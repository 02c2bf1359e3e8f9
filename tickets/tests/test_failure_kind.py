"""Ticket.failure_kind: filled for old rows from error_mensaje's wording, shown and filtered by the API."""
import importlib

import pytest
from django.apps import apps

from tickets import services
from tickets.models import FailureKind, Project, Ticket

pytestmark = pytest.mark.django_db

fill_failure_kind = importlib.import_module("tickets.migrations.0013_failure_kind").fill_failure_kind


def failed_with(project: Project, message: str | None, *, estado: str = "failed", kind: str = "") -> Ticket:
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    Ticket.objects.filter(pk=ticket.pk).update(estado=estado, error_mensaje=message, failure_kind=kind)
    return ticket


@pytest.mark.parametrize("message, estado, kind", [
    ("Fix the project: setup_command `npm ci` failed (exit 1)", "failed", "project"),
    ("Fix the ticket: its tests_codigo pass on main", "failed", "ticket"),
    ("Every model failed. a after 3 attempts: x", "failed", "models"),
    ("Failed after 3 attempts: 1 test failing", "failed", "attempts"),
    ("Waiting for disk space: only 0 MB free", "pending", "disk"),
    ("Internal error in the agent: KeyError('x')", "failed", "internal"),
    ("The agent worker stopped during the run (no heartbeat for 300 s).", "pending", "interrupted"),
    ("The database connection was lost during the run (boom).", "failed", "interrupted"),
    ("Ollama is unreachable at http://127.0.0.1:11434: refused", "pending", "model_unavailable"),
    ("Ollama at http://h kept failing to answer with m (3 problems) This stopped 3 runs", "failed",
     "model_unavailable"),
    ("something the model server said", "pending", "model_unavailable"),  # waits were the model's, disk's or a run's
    ("an unknown old failure", "failed", ""),
    (None, "completed", ""),
])
def test_old_rows_get_their_kind_from_the_message(project, message, estado, kind):
    ticket = failed_with(project, message, estado=estado)
    fill_failure_kind(apps, None)
    assert Ticket.objects.get(pk=ticket.pk).failure_kind == kind


def test_a_kind_already_stored_is_kept(project):
    ticket = failed_with(project, "Failed after 3 attempts", kind=FailureKind.INTERNAL)
    fill_failure_kind(apps, None)
    assert Ticket.objects.get(pk=ticket.pk).failure_kind == FailureKind.INTERNAL


def test_the_api_shows_the_kind_and_filters_by_it(project, api):
    by_project = failed_with(project, "Fix the project: no clone", kind=FailureKind.PROJECT)
    by_disk = failed_with(project, "Waiting for disk space", estado="pending", kind=FailureKind.DISK)
    failed_with(project, None, estado="completed")
    detail = api.get(f"/api/factory/tickets/{by_project.pk}").data
    assert detail["failure_kind"] == "project"
    listed = api.get("/api/factory/tickets", {"failure_kind": "project"}).data["results"]
    assert [row["id"] for row in listed] == [str(by_project.pk)] and listed[0]["failure_kind"] == "project"
    both = api.get("/api/factory/tickets", {"failure_kind": "project,disk"}).data["results"]
    assert {row["id"] for row in both} == {str(by_project.pk), str(by_disk.pk)}
    refused = api.get("/api/factory/tickets", {"failure_kind": "bad-luck"})
    assert refused.status_code == 400 and "failure_kind" in refused.data


def test_cancelling_a_waiting_ticket_clears_its_kind_but_a_failure_keeps_it(project):
    waiting = failed_with(project, "Waiting for disk space", estado="pending", kind=FailureKind.DISK)
    failed = failed_with(project, "Failed after 3 attempts", kind=FailureKind.ATTEMPTS)
    for ticket in (waiting, failed):
        services.cancel(ticket=Ticket.objects.get(pk=ticket.pk), actor="tester")
    assert Ticket.objects.get(pk=waiting.pk).failure_kind == FailureKind.NONE
    assert Ticket.objects.get(pk=failed.pk).failure_kind == FailureKind.ATTEMPTS
