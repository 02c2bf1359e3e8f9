"""More right answers per GPU-minute, through the real agent run and a real HTTP server speaking Ollama's API:
several candidates per attempt, an escalation ladder, and model probing."""
import os
import subprocess
import sys

import pytest
from django.test import Client

from agent.models import ModelProbe
from agent.worker.runner import run_ticket
from memory.models import MemoryItem
from tests.fake_ollama import FakeOllama
from tests.support import RIGHT, ROOT, WRONG, client_for, make_ticket, make_user
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)

SMALL, BIG = "qwen2.5-coder:14b", "qwen2.5-coder:32b"


def by_seed(right_seed: int):
    def answer(body: dict) -> str:
        return RIGHT if body.get("options", {}).get("seed") == right_seed else WRONG
    return answer


def test_two_candidates_the_second_right_completes_on_the_first_attempt(calc_project, settings, architect):
    project, _ = calc_project
    settings.FACTORY_CANDIDATES = 2
    with FakeOllama(answers=by_seed(1001)) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "completed" and done.intentos == 1, done.error_mensaje
    seeds = sorted(request["options"]["seed"] for request in fake.requests)
    assert seeds == [1000, 1001]
    temperatures = sorted(request["options"]["temperature"] for request in fake.requests)
    assert temperatures[0] < temperatures[1]
    detail = client_for(architect).get(f"/api/factory/tickets/{done.pk}").data
    [attempt] = detail["attempts"]
    assert [(c["number"], c["of"], c["chosen"], c["outcome"]) for c in attempt["candidates"]] == [
        (1, 2, False, "tests_failed"), (2, 2, True, "passed")]
    assert "def multiply" in attempt["candidates"][1]["answer"]
    assert "return a * b" in done.codigo_generado["diff"]  # the winner's change is the ticket's
    reviewer = make_user("rev", role="reviewer", staff=True)
    client = Client()
    client.force_login(reviewer)
    page = client.get(f"/review/{done.pk}/").content.decode()
    assert "candidate 2 of 2" in page and "chosen" in page


def test_a_project_can_ask_for_its_own_number_of_candidates(calc_project, settings, api):
    project, _ = calc_project
    response = api.patch(f"/api/factory/projects/{project.name}", {"candidates": 3, "escalation": [BIG]},
                         format="json")
    assert response.status_code == 200 and response.data["candidates"] == 3 and response.data["escalation"] == [BIG]
    with FakeOllama(answers=by_seed(1002)) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "completed" and done.intentos == 1
    assert sorted(request["options"]["seed"] for request in fake.requests)[:3] == [1000, 1001, 1002]


def test_escalation_to_a_bigger_model_after_the_first_fails_every_attempt(calc_project, settings):
    project, _ = calc_project
    settings.FACTORY_ESCALATION = (BIG,)

    def answer(body: dict) -> str:
        return RIGHT if body["model"] == BIG else WRONG

    with FakeOllama(answers=answer, models=(SMALL, BIG, "nomic-embed-text")) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "completed", done.error_mensaje
    models = [attempt.model_name for attempt in done.attempts.order_by("number")]
    assert models == [SMALL, SMALL, SMALL, BIG]
    escalated = done.events.get(kind=TicketEvent.Kind.ESCALATED)
    assert escalated.data == {"from_model": SMALL, "to_model": BIG}
    big_prompt = [r for r in fake.requests if r["model"] == BIG][0]["messages"][1]["content"]
    earlier = big_prompt.split("An earlier run with another model failed")[1].split("## Answer format")[0]
    assert f"{SMALL} (3 attempts) failed" in earlier


def test_when_every_model_fails_the_architect_gets_a_hand_back(calc_project, settings):
    project, _ = calc_project
    settings.FACTORY_ESCALATION = ("missing-model:7b", BIG)
    settings.FACTORY_MAX_ATTEMPTS = 1
    settings.FACTORY_QUEUE_SYNC = True
    with FakeOllama(answers=lambda body: WRONG if body["model"] == SMALL else "no edits at all",
                    models=(SMALL, BIG, "nomic-embed-text")) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "failed"
    line = done.error_mensaje
    assert line.startswith("Every model failed.") and "\n" not in line
    assert f"{SMALL} after 1 attempts" in line and f"{BIG} after 1 attempts" in line
    assert "missing-model:7b skipped (unreachable)" in line
    handback = done.events.get(kind=TicketEvent.Kind.NOTE, data__has_key="handback")
    assert SMALL in handback.message and BIG in handback.message and "assert 7 == 12" in handback.message
    lesson = MemoryItem.objects.get(kind="error", ticket=done)
    assert "Every model failed" in lesson.text and SMALL in lesson.text and BIG in lesson.text


def test_a_small_real_context_caps_num_ctx_and_the_admin_warns(calc_project, settings):
    project, _ = calc_project
    with FakeOllama(answers=[RIGHT], context_lengths={SMALL: 4096}) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(make_ticket(project).pk))
        assert done.estado == "completed"
        assert fake.requests[0]["options"]["num_ctx"] == 4096
        probe = ModelProbe.objects.get(name=SMALL)
        assert probe.context_length == 4096 and probe.family == "qwen2"
        fake.push(RIGHT)
        run_ticket(str(make_ticket(project).pk))
        assert fake.shows == [SMALL]  # probed once per digest
        fake.digest_salt = "re-pulled"
        fake.push(RIGHT)
        run_ticket(str(make_ticket(project).pk))
        assert fake.shows == [SMALL, SMALL] and ModelProbe.objects.filter(name=SMALL).count() == 2
    boss = make_user("boss", staff=True)
    boss.is_superuser = True
    boss.save()
    client = Client()
    client.force_login(boss)
    page = client.get("/admin/tickets/ticket/").content.decode()
    assert "FACTORY_NUM_CTX=16384 is larger than the 4096-token context of qwen2.5-coder:14b" in page


@pytest.mark.parametrize("variable, value", [("FACTORY_MODEL", "qwen coder"), ("FACTORY_ESCALATION", "ok:1,bad name")])
def test_a_model_name_ollama_cannot_have_stops_the_process_naming_the_variable(variable, value):
    root = ROOT
    environment = {**os.environ, variable: value, "PYTHONPATH": str(root)}
    started = subprocess.run([sys.executable, "-c", "import factory_site.settings"], capture_output=True, text=True,
                             env=environment, cwd=root)
    assert started.returncode != 0
    assert variable in started.stderr and "is not a model name as Ollama spells it" in started.stderr
