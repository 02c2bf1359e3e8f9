"""Each way a run ends badly stores its FailureKind beside error_mensaje, through the real runner: real git, real
sandbox, a real HTTP server speaking Ollama's API. Readers (the review page, webhooks, the API) ask the kind."""
import socket

import pytest
from django.test import Client

from agent.worker import heartbeat
from agent.worker.runner import run_ticket
from tests.fake_ollama import FakeOllama
from tests.support import make_user
from tickets import services
from tickets.models import FailureKind, Project, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

SMALL, BIG = "qwen2.5-coder:14b", "qwen2.5-coder:32b"
WRONG = """calc.py
```python
def add(a, b):
    return a + b


def multiply(a, b):
    return a + b
```
"""


def make_ticket(project: Project, **fields) -> Ticket:
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": "Add multiply to calc", "descripcion": "Add multiply(a, b) returning the product.",
        "archivos_modificar": ["calc.py"], "tests_requeridos": ["tests/test_calc.py::test_multiply"], **fields})
    return ticket


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_broken_project_is_a_project_failure_and_the_review_page_offers_to_fix_it(calc_project, fake_model):
    project, _ = calc_project
    project.setup_command = "echo 'npm ERR! missing lockfile' >&2; exit 3"
    project.save()
    done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "failed" and done.failure_kind == FailureKind.PROJECT
    assert done.error_mensaje.startswith("Fix the project:")
    client = Client()
    client.force_login(make_user("rev", role="reviewer", staff=True))
    page = client.get(f"/review/{done.pk}/").content.decode()
    assert 'id="project-problem"' in page and 'id="request-changes-button"' not in page


def test_acceptance_tests_passing_on_the_base_are_a_ticket_failure(calc_project, fake_model):
    project, _ = calc_project
    passing = "from calc import add\n\n\ndef test_already_true():\n    assert add(1, 1) == 2\n"
    done = run_ticket(str(make_ticket(project, tests_codigo={"tests/test_given.py": passing}).pk))
    assert done.estado == "failed" and done.failure_kind == FailureKind.TICKET, done.error_mensaje
    assert fake_model.requests == []  # no model was asked


def test_tests_still_failing_after_the_attempts_and_a_retry_clears_the_kind(calc_project, fake_model, settings):
    project, _ = calc_project
    settings.FACTORY_MAX_ATTEMPTS = 1
    fake_model.push(WRONG)
    done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "failed" and done.failure_kind == FailureKind.ATTEMPTS, done.error_mensaje
    assert done.error_mensaje.startswith("Failed after 1 attempts")
    retried = services.retry(ticket=done, actor="tester")
    assert retried.failure_kind == FailureKind.NONE and retried.error_mensaje is None


def test_every_model_of_the_ladder_failing_is_the_models_failure(calc_project, settings):
    project, _ = calc_project
    settings.FACTORY_ESCALATION = (BIG,)
    settings.FACTORY_MAX_ATTEMPTS = 1
    with FakeOllama(answers=lambda body: WRONG, models=(SMALL, BIG, "nomic-embed-text")) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "failed" and done.failure_kind == FailureKind.MODELS
    assert done.error_mensaje.startswith("Every model failed.")


def test_an_unreachable_model_makes_the_ticket_wait_and_the_next_claim_clears_the_kind(calc_project, settings):
    project, _ = calc_project
    settings.OLLAMA_HOST = closed_port_url()
    waiting = run_ticket(str(make_ticket(project).pk))
    assert waiting.estado == "pending" and waiting.failure_kind == FailureKind.MODEL_UNAVAILABLE
    with FakeOllama(answers=[WRONG]) as fake:
        settings.OLLAMA_HOST = fake.url
        settings.FACTORY_MAX_ATTEMPTS = 1
        done = run_ticket(str(waiting.pk))
    assert done.failure_kind == FailureKind.ATTEMPTS  # the wait's kind did not survive the new run


def test_too_little_free_disk_makes_the_ticket_wait_as_a_disk_problem(calc_project, fake_model, settings):
    settings.FACTORY_MIN_FREE_MB = 10 ** 12
    waiting = run_ticket(str(make_ticket(calc_project[0]).pk))
    assert waiting.estado == "pending" and waiting.failure_kind == FailureKind.DISK
    assert waiting.error_mensaje.startswith("Waiting for disk space")


def test_a_run_interrupted_twice_fails_as_interrupted(calc_project):
    ticket = make_ticket(calc_project[0])
    for expected in ("pending", "failed"):
        ticket = services.transition(ticket=ticket, to="in_progress", actor="agent")
        ticket = heartbeat.interrupt(ticket_id=ticket.pk, run_started=ticket.iniciado_en, reason="Worker gone.")
        assert ticket.estado == expected and ticket.failure_kind == FailureKind.INTERRUPTED
