"""HTTP part of bench/memory.py: the memory API through Django's full stack, each figure beside its floor.

Creates and drops the database `factory_bench_memory` (never touches your data), starts a fake
Ollama server (tests/fake_ollama.py, a real HTTP server) in a process of its own, as Ollama runs
(in this process its work would hold the interpreter lock the searches need), loads the items straight into
PostgreSQL and the index with the vectors that server returns, and keeps the index under a
temporary FACTORY_DATA_DIR. Requests go through Django's test client in this process: token
auth, DRF, the view, the selector, the embedder's HTTP call and the index, as in a web worker.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import httpx

from bench import _django
from bench.data.memory_corpus import build_corpus
from tests.fake_ollama import embedding_for

BENCH_DB = "factory_bench_memory"
SEARCH_TARGET_MS = 20.0
SEARCH_TARGET_RATIO = 1.5
LOAD_BATCH = 1000


@contextmanager
def fake_ollama_process():
    """tests/fake_ollama.py serving on a free port in its own process; yields its URL."""
    server = subprocess.Popen([sys.executable, str(_django.ROOT / "tests" / "fake_ollama.py"), "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        announced = server.stdout.readline()  # "fake Ollama listening on http://127.0.0.1:PORT with ..."
        url = next((word for word in announced.split() if word.startswith("http://")), None)
        if url is None:
            raise RuntimeError(f"the fake Ollama server did not start: {announced!r}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def percentile(samples: list[float], share: float) -> float:
    return _django.percentile(samples, share)


def p50_p95(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 0.5):8.3f} ms  p95 {percentile(samples, 0.95):8.3f} ms"


def line(label: str, samples: list[float], floor: list[float] | None = None, floor_label: str = "") -> None:
    text = f"{label:<52} {p50_p95(samples)}"
    if floor:
        ratio = percentile(samples, 0.5) / percentile(floor, 0.5)
        text += f"   {ratio:6.2f}x {floor_label} (p50 {percentile(floor, 0.5):.3f} ms)"
    print(text)


def timed(call, count: int) -> list[float]:
    samples = []
    for n in range(count):
        start = time.perf_counter()
        response = call(n)
        samples.append((time.perf_counter() - start) * 1000)
        status = getattr(response, "status_code", 200)
        assert status in (200, 201), getattr(response, "content", b"")[:300]
    return samples


def load_items(total: int) -> list[str]:
    """`total` corpus items in PostgreSQL and the index, with the fake server's vectors; returns the queries."""
    from django.conf import settings

    from memory import engine, services
    from memory.embeddings import DOCUMENT_PREFIX
    from memory.index import IndexPoint
    from memory.models import MemoryItem
    from tickets.models import Project

    corpus, queries = build_corpus(total_items=total)
    projects = {name: Project.objects.create(name=name, repo_url=f"/tmp/{name}", test_command="true")
                for name in sorted({item.project for item in corpus if item.project})}
    index = engine.index()
    index.write_meta({"embed_model": settings.FACTORY_EMBED_MODEL, "dim": settings.FACTORY_EMBED_DIM})
    for start in range(0, len(corpus), LOAD_BATCH):
        batch = corpus[start:start + LOAD_BATCH]
        rows = MemoryItem.objects.bulk_create([
            MemoryItem(id=item.id, text=item.text, text_hash=services.text_hash(item.text + item.id), kind="context",
                       source="init", project=projects.get(item.project), tags=list(item.tags),
                       embed_model=settings.FACTORY_EMBED_MODEL)
            for item in batch
        ])
        index.upsert([IndexPoint(id=str(row.pk), text=row.text, payload=services.payload_for(row),
                                 dense=embedding_for(DOCUMENT_PREFIX + row.text, dim=settings.FACTORY_EMBED_DIM))
                      for row in rows])
    return [query.text for query in queries]


def search_figures(api, queries: list[str], requests: int) -> None:
    from tickets.models import Project, Ticket

    Ticket.objects.create(project=Project.objects.first(), titulo="one row", descripcion="", tipo="feature")
    ticket_list = lambda n: api.get("/api/factory/tickets", {"page_size": 1})  # noqa: E731
    search = lambda n: api.get("/api/factory/memory/search", {"q": queries[n % len(queries)], "k": 5})  # noqa: E731
    filtered = lambda n: api.get("/api/factory/memory/search",  # noqa: E731
                                 {"q": queries[n % len(queries)], "k": 5, "project": "factory"})
    timed(ticket_list, 20), timed(search, 20)  # warm-up
    floor, lone, lone_filtered = [], [], []
    for n in range(requests):  # interleaved, so the machine's load weighs on both alike
        floor += timed(ticket_list, 1)
        lone += timed(lambda _, n=n: search(n), 1)
        lone_filtered += timed(lambda _, n=n: filtered(n), 1)
    line("GET /api/factory/tickets?page_size=1 (floor)", floor)
    line("GET /api/factory/memory/search, lone, k=5", lone, floor, "ticket list")
    line("GET /api/factory/memory/search, project filter", lone_filtered, floor, "ticket list")
    p50, ratio = percentile(lone, 0.5), percentile(lone, 0.5) / percentile(floor, 0.5)
    verdict = "met" if p50 <= SEARCH_TARGET_MS and ratio <= SEARCH_TARGET_RATIO else "MISSED"
    print(f"target: lone search p50 <= {SEARCH_TARGET_MS:.0f} ms and <= {SEARCH_TARGET_RATIO}x the ticket list: "
          f"{p50:.1f} ms, {ratio:.2f}x ({verdict})")


def part_figures(fake_url: str, queries: list[str], requests: int) -> None:
    """What each fixed cost of a search is now, beside what it was or its floor."""
    from django.conf import settings

    from memory import engine, selectors
    from memory.embeddings import OllamaEmbedder
    from memory.models import MemoryItem
    from memory.serializers import MemoryItemSerializer, search_rows

    body = {"model": settings.FACTORY_EMBED_MODEL, "input": ["search_query: x"]}
    with httpx.Client() as bare:
        bare_post = timed(lambda n: bare.post(f"{fake_url}/api/embed", json=body), requests)
    kept = timed(lambda n: engine.embedder().embed_query(queries[n % len(queries)]), requests)
    fresh = timed(lambda n: OllamaEmbedder(settings.OLLAMA_HOST, model=settings.FACTORY_EMBED_MODEL,
                                           dim=settings.FACTORY_EMBED_DIM).embed_query(queries[n % len(queries)]), 30)
    line("embed_query, the process's embedder", kept, bare_post, "bare HTTP POST")
    line("embed_query, a new embedder per call (before)", fresh, bare_post, "bare HTTP POST")
    engine.check_compatible()
    checks = timed(lambda n: engine.check_compatible(), requests)
    search_ms = timed(lambda n: engine.index().search(text=queries[n % len(queries)], dense=None, k=5), requests)
    line("compatibility check (cached)", checks, search_ms, "BM25 search in the shard")
    hits = selectors.search_index(query=queries[0], k=5).hits
    rows = timed(lambda n: search_rows(selectors.found_rows(hits)), requests)
    def orm_rows() -> list[dict]:
        items = MemoryItem.objects.select_related("project", "created_by").in_bulk([hit.id for hit in hits])
        return [{**MemoryItemSerializer(items[UUID(hit.id)]).data, "score": hit.score} for hit in hits]

    orm = timed(lambda n: orm_rows(), requests)
    line("5 result rows read and shown: found_rows, search_rows", rows, orm,
         "the ORM and a serializer per item (before)")


def owner_figures(api, queries: list[str], requests: int) -> None:
    """A lone search while a worker process owns the shard (sent over its socket), beside one in the owner."""
    from django.conf import settings

    from memory import engine

    index = engine.index()
    script = ("import sys, time; from memory.index import EmbeddedIndex; index = EmbeddedIndex(sys.argv[1], "
              "dim=int(sys.argv[2])); index.count(); print('held', flush=True); time.sleep(600)")
    search = lambda n: api.get("/api/factory/memory/search", {"q": queries[n % len(queries)], "k": 5})  # noqa: E731
    owning = timed(search, requests)
    index.close()
    other = subprocess.Popen([sys.executable, "-c", script, str(index.path), str(settings.FACTORY_EMBED_DIM)],
                             env={"PYTHONPATH": str(_django.ROOT), "PATH": ""}, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        through = timed(search, requests)
    finally:
        other.kill()
        other.wait()
    line("search while another process owns the shard", through, owning, "this process owning it")


def concurrent_writes(clients: list, writes: int, make_body, path: str) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    per_client = writes // len(clients)

    def client_loop(number: int, api) -> None:
        from django.db import connection

        try:
            for n in range(per_client):
                start = time.perf_counter()
                response = api.post(path, make_body(number, n), format="json")
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code not in (200, 201):
                    errors.append(f"HTTP {response.status_code}: {response.content[:200]!r}")
        except Exception as exc:  # counted, and the run goes on
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client_loop, args=(number, api)) for number, api in enumerate(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - start


def write_figures(writes: int, clients: int) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from memory.models import MemoryItem

    user = get_user_model().objects.get(username="bench-architect")
    token = Token.objects.get(user=user).key
    apis = []
    for _ in range(clients):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        apis.append(api)
    before = MemoryItem.objects.count()

    def memory_body(client: int, n: int) -> dict:
        shared = n % 10 == 0  # every tenth write is a text all clients store at once: deduplicated
        text = f"Shared lesson number {n}" if shared else f"Lesson {n} from client {client}: retry the flaky test"
        return {"text": text, "kind": "solution", "project": "factory", "tags": ["bench"]}

    def ticket_body(client: int, n: int) -> dict:
        return {"titulo": f"Ticket {n} of client {client}", "descripcion": "Bench ticket.", "tipo": "feature",
                "project": "factory"}

    floor, floor_errors, floor_s = concurrent_writes(apis, writes, ticket_body, "/api/factory/tickets")
    memory, memory_errors, memory_s = concurrent_writes(apis, writes, memory_body, "/api/factory/memory")
    stored = MemoryItem.objects.count() - before
    line(f"POST /api/factory/tickets, {writes} from {clients} clients", floor)
    line(f"POST /api/factory/memory, {writes} from {clients} clients", memory, floor, "ticket POST")
    print(f"{'':<52} memory: {len(memory_errors)} errors, {stored} items stored, {writes / memory_s:.0f} writes/s; "
          f"tickets: {len(floor_errors)} errors, {writes / floor_s:.0f} writes/s")
    for error in (memory_errors + floor_errors)[:5]:
        print(f"  {error}")


def run(*, items: int, writes: int, clients: int, requests: int) -> None:
    _django.setup()
    for noisy in ("httpx", "django-q"):  # a line per embedding request or queued ticket otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from django.conf import settings

    from memory import engine

    with tempfile.TemporaryDirectory(prefix="memory-bench-http-") as data_dir, fake_ollama_process() as fake_url, \
            _django.bench_database(BENCH_DB):
        settings.FACTORY_DATA_DIR = Path(data_dir)
        settings.OLLAMA_HOST = fake_url
        started = time.perf_counter()
        queries = load_items(items)
        print(f"\nHTTP: {items} items loaded into PostgreSQL and the index in {time.perf_counter() - started:.0f} s; "
              f"fake Ollama at {fake_url}; {requests} requests per figure, interleaved with the floor")
        api = _django.architect_client()
        try:
            search_figures(api, queries, requests)
            part_figures(fake_url, queries, requests)
            owner_figures(api, queries, requests)
            write_figures(writes, clients)
        finally:
            engine.index().close()  # before its temporary folder goes
