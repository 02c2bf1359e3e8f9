"""What a process builds once (embedder, index, compatibility), search rows, and concurrent stores."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memory import engine, selectors, services
from memory.index import IndexMismatch
from memory.models import MemoryItem
from memory.serializers import MemoryItemSerializer, search_rows
from tests.fake_ollama import FakeOllama
from tickets.models import Project


@pytest.fixture
def memory_env(settings, tmp_path):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    engine.forget_compatibility()
    with FakeOllama() as fake:
        settings.OLLAMA_HOST = fake.url
        yield fake
    engine.index().close()


def test_the_embedder_and_its_http_client_are_built_once_per_settings(settings, memory_env):
    first = engine.embedder()
    assert engine.embedder() is first
    first.embed_query("warm the connection")
    settings.FACTORY_EMBED_TIMEOUT = 3.0
    assert engine.embedder() is not first


def test_the_index_is_built_once_and_the_previous_one_handed_over_when_settings_change(settings, memory_env, tmp_path):
    first = engine.index()
    assert engine.index() is first
    first.count()
    settings.FACTORY_DATA_DIR = tmp_path / "other"
    second = engine.index()
    assert second is not first
    assert not first._lease.held


def test_a_passed_compatibility_check_holds_until_the_record_or_the_settings_change(settings, memory_env):
    engine.check_compatible()  # labels the fresh index with the configured model
    index = engine.index()
    assert index.meta()["embed_model"] == settings.FACTORY_EMBED_MODEL
    engine.check_compatible()
    index.write_meta({"embed_model": "mxbai-embed-large", "dim": settings.FACTORY_EMBED_DIM})  # another process's
    with pytest.raises(IndexMismatch, match="mxbai-embed-large"):
        engine.check_compatible()
    index.write_meta({"embed_model": settings.FACTORY_EMBED_MODEL, "dim": settings.FACTORY_EMBED_DIM})
    engine.check_compatible()
    settings.FACTORY_EMBED_MODEL = "qwen2.5-coder:14b"
    with pytest.raises(IndexMismatch, match="qwen2.5-coder"):
        engine.check_compatible()


@pytest.mark.django_db
def test_search_rows_equal_what_the_item_serializer_shows(memory_env):
    project = Project.objects.create(name="nexo", repo_url="/tmp/nexo", test_command="true")
    services.store_item(text="Tenant queries go through RLSContextManager.query()", kind="pattern",
                        source="architect", project=project, tags=["rls"], files=["backend/db.js"])
    services.store_item(text="Invoices are rendered with pdfkit", kind="decision", source="reviewer")
    found = selectors.search(query="tenant queries pdfkit", k=5).items
    assert len(found) == 2
    assert search_rows(found) == [{**MemoryItemSerializer(item).data, "score": score} for item, score in found]


@pytest.mark.django_db
def test_a_search_reads_its_items_and_their_authors_in_one_query(memory_env, django_user_model):
    author = django_user_model.objects.create(username="ana")
    project = Project.objects.create(name="nexo", repo_url="/tmp/nexo", test_command="true")
    for number in range(5):
        services.store_item(text=f"Lesson {number} about tenant queries", kind="pattern", source="architect",
                            project=project, created_by=author)
    selectors.search(query="tenant queries", k=5)  # the project's language, read once per process and project
    with CaptureQueriesContext(connection) as queries:
        rows = search_rows(selectors.search(query="tenant queries", k=5).items)
    assert {row["created_by"] for row in rows} == {"ana"} and len(rows) == 5
    assert len(queries) <= 2, [query["sql"] for query in queries]


@pytest.mark.django_db(transaction=True)
def test_concurrent_stores_of_the_same_and_different_texts_never_fail(memory_env):
    failures: list[BaseException] = []
    outcomes: list[bool] = []
    start = threading.Barrier(8)

    def store(worker: int) -> None:
        try:
            start.wait()
            for n in range(6):
                text = "Shared lesson every client stores" if n % 2 == 0 else f"Lesson {n} of client {worker}"
                _, created, _ = services.store_item(text=text, kind="solution", source="agent")
                outcomes.append(created)
        except BaseException as exc:  # handed to the main thread, which fails the test
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=store, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert MemoryItem.objects.count() == 1 + 8 * 3
    assert outcomes.count(True) == 1 + 8 * 3
    assert engine.index().count() == MemoryItem.objects.count()
