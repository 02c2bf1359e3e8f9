"""The shared memory through its API, commands and the agent: hybrid search, fallback, re-embedding, learning."""
import socket

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core.management import CommandError, call_command
from django.test import Client

from agent.worker.runner import run_ticket
from memory.models import MemoryItem
from tests.fake_ollama import unreachable_url
from tests.support import CALC, CALC_TESTS, LESSON, RIGHT, WRONG, client_for, make_remote_repo, make_ticket, make_user
from tickets import decisions as review
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

DISTRACTOR = {"text": "Invoices are rendered to PDF with pdfkit in the contabilidad module.", "kind": "context",
              "source": "architect"}


def test_store_search_duplicate_and_delete(api, project, memory_env):
    stored = api.post("/api/factory/memory", {**LESSON, "project": "demo"}, format="json")
    assert stored.status_code == 201, stored.content
    assert stored.data["needs_embedding"] is False
    api.post("/api/factory/memory", DISTRACTOR, format="json")
    again = api.post("/api/factory/memory", {**LESSON, "project": "demo"}, format="json")
    assert again.status_code == 200 and again.data["duplicate"] is True
    assert MemoryItem.objects.count() == 2
    found = api.get("/api/factory/memory/search", {"q": "how do I query tenant data with RLS", "k": 5})
    assert found.status_code == 200
    assert found.data["mode"] == "hybrid"
    assert found.data["results"][0]["text"] == LESSON["text"]
    assert {"id", "text", "kind", "score", "project", "tags"} <= set(found.data["results"][0])
    only_demo = api.get("/api/factory/memory/search", {"q": "pdfkit invoices", "project": "demo"})
    assert [row["text"] for row in only_demo.data["results"]] == [LESSON["text"]]
    by_kind = api.get("/api/factory/memory/search", {"q": "pdfkit invoices", "kind": "context"})
    assert [row["text"] for row in by_kind.data["results"]] == [DISTRACTOR["text"]]
    deleted = api.delete(f"/api/factory/memory/{stored.data['id']}")
    assert deleted.status_code == 204
    after = api.get("/api/factory/memory/search", {"q": "RLSContextManager tenant queries"})
    assert LESSON["text"] not in [row["text"] for row in after.data["results"]]


def test_bad_memory_input_is_400(api, project, memory_env):
    wisdom = api.post("/api/factory/memory", {"text": "x", "kind": "wisdom"}, format="json")
    assert wisdom.status_code == 400
    assert wisdom.data["kind"] == ['"wisdom" is not a kind; use one of: pattern, decision, error, solution, context.']
    claimed = api.post("/api/factory/memory", {**LESSON, "source": "agent"}, format="json")
    assert claimed.data["source"] == ["The server sets source from your role ('architect'); leave it out."]
    assert api.post("/api/factory/memory", {**LESSON, "project": "nope"}, format="json").status_code == 400
    assert api.post("/api/factory/memory", {**LESSON, "colour": "red"}, format="json").status_code == 400
    assert api.get("/api/factory/memory/search", {"q": "x", "k": 0}).status_code == 400
    assert api.get("/api/factory/memory/search").status_code == 400
    assert api.delete("/api/factory/memory/not-an-id").status_code == 404
    outsider = client_for(make_user("outsider"))
    assert outsider.post("/api/factory/memory", LESSON, format="json").status_code == 403


def test_admin_keeps_an_item_it_cannot_delete_from_an_unavailable_index(api, project, memory_env, settings):
    boss = make_user("boss", staff=True)
    boss.is_superuser = True
    boss.save()
    admin = Client()
    admin.force_login(boss)
    item_id = api.post("/api/factory/memory", LESSON, format="json").data["id"]
    settings.QDRANT_URL = unreachable_url()  # the index is now a Qdrant server that does not answer

    single = admin.post(f"/admin/memory/memoryitem/{item_id}/delete/", {"post": "yes"}, follow=True)
    bulk = admin.post("/admin/memory/memoryitem/", {"action": "delete_selected", "_selected_action": [item_id],
                                                    "post": "yes"}, follow=True)
    for response in (single, bulk):
        page = response.content.decode()
        assert response.status_code == 200
        assert "Nothing was deleted: the memory index is unavailable" in page and "QDRANT_URL" in page
        assert "deleted successfully" not in page and "Successfully deleted" not in page
    assert MemoryItem.objects.filter(pk=item_id).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()  # the admin's history says nothing happened

    settings.QDRANT_URL = ""  # the index is back: now it goes, from PostgreSQL and the index alike
    done = admin.post(f"/admin/memory/memoryitem/{item_id}/delete/", {"post": "yes"}, follow=True)
    assert "deleted successfully" in done.content.decode()
    assert not MemoryItem.objects.exists()
    found = api.get("/api/factory/memory/search", {"q": "RLSContextManager tenant queries"})
    assert found.data["results"] == []


def test_bm25_fallback_with_ollama_down_then_reembed(api, project, memory_env, settings):
    settings.OLLAMA_HOST = unreachable_url()
    stored = api.post("/api/factory/memory", LESSON, format="json")
    assert stored.status_code == 201
    assert stored.data["needs_embedding"] is True and "keyword search only" in stored.data["warning"]
    found = api.get("/api/factory/memory/search", {"q": "RLSContextManager tenant"})
    assert found.data["mode"] == "bm25"
    assert found.data["results"][0]["text"] == LESSON["text"]
    with pytest.raises(CommandError, match="unreachable"):
        call_command("memory_reembed")
    settings.OLLAMA_HOST = memory_env.url
    call_command("memory_reembed")
    assert MemoryItem.objects.get().needs_embedding is False
    assert api.get("/api/factory/memory/search", {"q": "RLSContextManager"}).data["mode"] == "hybrid"


def test_changing_the_embedding_model_is_detected_and_reset_rebuilds(api, project, memory_env, settings):
    api.post("/api/factory/memory", LESSON, format="json")
    settings.FACTORY_EMBED_MODEL = "qwen2.5-coder:14b"  # another model the fake serves
    from memory import engine

    engine.forget_compatibility()
    found = api.get("/api/factory/memory/search", {"q": "RLSContextManager"})
    assert found.data["mode"] == "bm25"
    assert "memory_reembed --reset" in found.data["warnings"][0]
    call_command("memory_reembed", "--reset")
    rebuilt = api.get("/api/factory/memory/search", {"q": "RLSContextManager"})
    assert rebuilt.data["mode"] == "hybrid" and rebuilt.data["results"][0]["text"] == LESSON["text"]


def test_memory_init_seeds_layout_and_guidance_once(db, tmp_path, memory_env):
    remote = make_remote_repo(tmp_path, {
        "README.md": "# Nexo\n\nBackend in Express.\n\n## Conventions\n\nWrap every handler in asyncHandler.\n",
        "docs/rls.md": "# Row-level security\n\nAlways use RLSContextManager.query() for tenant data.\n",
        "backend/app/__init__.py": "", "backend/app/modules/pos/ventas.js": "// ventas\n",
    })
    services.create_project(name="nexo", repo_url=str(remote), test_command="npm test")
    call_command("memory_init", "--project", "nexo")
    first = MemoryItem.objects.count()
    assert first >= 3
    texts = " ".join(MemoryItem.objects.values_list("text", flat=True))
    assert "asyncHandler" in texts and "RLSContextManager" in texts and "Repository layout of nexo" in texts
    call_command("memory_init", "--project", "nexo")
    assert MemoryItem.objects.count() == first
    with pytest.raises(CommandError, match="Unknown project"):
        call_command("memory_init", "--project", "missing")


def test_memory_init_with_the_index_down_says_so_in_one_line_and_stores_nothing(db, tmp_path, memory_env,
                                                                               settings):
    remote = make_remote_repo(tmp_path, {"README.md": "# Nexo\n\nWrap every handler in asyncHandler.\n"})
    services.create_project(name="nexo", repo_url=str(remote), test_command="npm test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.QDRANT_URL = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens there
    with pytest.raises(CommandError, match="The memory index is unavailable: .*0 new items were stored"):
        call_command("memory_init", "--project", "nexo")
    assert MemoryItem.objects.count() == 0


@pytest.mark.parametrize("limit", ["-1", "0", "many"])
def test_memory_reembed_refuses_a_limit_below_one(db, memory_env, limit):
    with pytest.raises(CommandError, match="--limit"):
        call_command("memory_reembed", "--limit", limit)


def test_a_learning_from_one_ticket_reaches_the_prompt_of_a_similar_one(tmp_path, settings, memory_env):
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")
    memory_env.push(WRONG, RIGHT)
    first = run_ticket(str(make_ticket(project).pk))
    assert first.intentos == 2
    lesson = MemoryItem.objects.get(kind="solution")
    assert "assert 7 == 12" in lesson.text and lesson.ticket_id == first.pk
    memory_env.push(RIGHT)
    second = run_ticket(str(make_ticket(project).pk))
    prompt = memory_env.requests[-1]["messages"][1]["content"]
    assert "Lessons from earlier tickets" in prompt
    assert "passed only after 1 failed attempt" in prompt
    assert second.estado == "completed"


def test_final_failures_and_review_comments_become_lessons(tmp_path, settings, memory_env, reviewer):
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS, "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")
    memory_env.push(RIGHT)
    done = run_ticket(str(make_ticket(project).pk))
    review.request_changes(ticket=done, user=reviewer, comment="Name the tests after the behaviour they check.")
    assert MemoryItem.objects.filter(kind="decision", source="reviewer", text__contains="Name the tests").exists()
    memory_env.push(WRONG, WRONG.replace("a + b\n```\n\ntests", "a - b\n```\n\ntests"), "no edits")
    failed = run_ticket(str(make_ticket(project).pk))
    assert failed.estado == "failed"
    assert MemoryItem.objects.filter(kind="error", ticket=failed).exists()


def test_a_retried_ticket_that_passes_at_once_teaches_no_old_failures(tmp_path, settings, memory_env):
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS, "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")
    memory_env.push(WRONG, WRONG, WRONG)
    failed = run_ticket(str(make_ticket(project).pk))
    assert failed.estado == "failed"
    services.retry(ticket=failed, actor="test")
    memory_env.push(RIGHT)
    done = run_ticket(str(failed.pk))
    assert done.estado == "completed"
    # The second run passed on its own first attempt: nothing "passed only after 3 failed attempts".
    assert not MemoryItem.objects.filter(kind="solution", ticket=done).exists()
