"""What a process builds once (embedder, index, compatibility), search rows, and concurrent stores."""

import os
import threading
from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from memory import engine, selectors, services
from memory.index import IndexMismatch
from memory.models import MemoryItem
from memory.serializers import MemoryItemSerializer, search_rows
from tests.fake_ollama import FakeOllama
from tickets.models import Project, Ticket


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
    assert not first.owner


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
def test_search_rows_equal_what_the_item_serializer_shows(memory_env, django_user_model):
    author = django_user_model.objects.create(username="ana")
    project = Project.objects.create(name="nexo", repo_url="/tmp/nexo", test_command="true")
    ticket = Ticket.objects.create(project=project, titulo="Tenant queries", descripcion="", tipo="feature")
    services.store_item(text="Tenant queries go through RLSContextManager.query()", kind="pattern",
                        source="architect", project=project, tags=["rls"], files=["backend/db.js"],
                        ticket=ticket, created_by=author)
    services.store_item(text="Invoices are rendered with pdfkit", kind="decision", source="reviewer")
    hits = selectors.search_index(query="tenant queries pdfkit", k=5).hits  # the two tie: one search for both
    rows = search_rows(selectors.found_rows(hits))
    items = MemoryItem.objects.in_bulk([hit.id for hit in hits])
    assert len(rows) == 2 and {row["created_by"] for row in rows} == {"ana", None}
    assert rows == [{**MemoryItemSerializer(items[UUID(hit.id)]).data, "score": hit.score} for hit in hits]


@pytest.mark.django_db
def test_a_search_reads_its_rows_with_their_projects_and_authors_in_one_query(memory_env, django_user_model):
    author = django_user_model.objects.create(username="ana")
    project = Project.objects.create(name="nexo", repo_url="/tmp/nexo", test_command="true")
    for number in range(5):
        services.store_item(text=f"Lesson {number} about tenant queries", kind="pattern", source="architect",
                            project=project, created_by=author)
    hits = selectors.search_index(query="tenant queries", k=5, project="nexo").hits
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.found_rows(hits)
    assert [row.id for row in rows] == [UUID(hit.id) for hit in hits]  # the index's order
    assert {(row.created_by, row.project) for row in rows} == {("ana", "nexo")} and len(rows) == 5
    assert len(queries) == 1, [query["sql"] for query in queries]


@pytest.mark.django_db
def test_a_hit_whose_item_is_gone_from_the_database_is_left_out(memory_env):
    kept, _, _ = services.store_item(text="Tenant queries go through the RLS manager", kind="pattern",
                                     source="architect")
    gone, _, _ = services.store_item(text="Tenant queries once went elsewhere", kind="pattern", source="architect")
    hits = selectors.search_index(query="tenant queries", k=5).hits
    MemoryItem.objects.filter(pk=gone.pk).delete()  # another process deleted it after the index answered
    assert [row.id for row in selectors.found_rows(hits)] == [kept.pk]
    assert selectors.found_rows([]) == []


class HeldEmbeddings(FakeOllama):
    """Answers an embedding request only once `release` is set (or after 5 s, which fails the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.released_in_time: list[bool] = []

    def _embed(self, body: dict):
        self.arrived.set()
        self.released_in_time.append(self.release.wait(timeout=5))
        return super()._embed(body)


@pytest.mark.django_db
def test_the_projects_language_is_read_while_the_query_embedding_is_on_its_way(settings, memory_env):
    project = Project.objects.create(name="nexo", repo_url="/tmp/nexo", test_command="true",
                                     memory_language="spanish")
    services.store_item(text="Las consultas de inquilinos pasan por RLS", kind="pattern", source="architect",
                        project=project)
    embedding_in_flight: list[bool] = []

    def on_language_read(execute, sql, params, many, context):
        if "memory_language" in sql:  # read in order, this would wait for an embedding never asked (5 s)
            embedding_in_flight.append(held.arrived.wait(timeout=5))
            held.release.set()  # and the server answers only now
        return execute(sql, params, many, context)

    with HeldEmbeddings() as held:
        settings.OLLAMA_HOST = held.url
        with connection.execute_wrapper(on_language_read):
            answer = selectors.search_index(query="consultas de inquilinos", k=5, project="nexo")
    assert embedding_in_flight == [True] and held.released_in_time == [True]
    assert answer.mode == "hybrid" and len(answer.hits) == 1


def test_a_forked_child_embeds_queries_on_a_pool_of_its_own(memory_env):
    assert len(engine.query_embedding("warm the parent's pool").result(timeout=10)) == 768
    child = os.fork()
    if child == 0:  # the child: the parent's pool threads did not come along
        try:
            os._exit(0 if len(engine.query_embedding("asked in the child").result(timeout=10)) == 768 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


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
