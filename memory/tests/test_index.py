"""Both memory index backends through the same tests, plus the embedded engine's own guarantees."""

import fcntl
import json
import math
import os
import socket
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from memory.embeddings import HashingEmbedder
from memory.index import (
    RESET_COMMAND,
    EmbeddedIndex,
    Hit,
    IndexMismatch,
    IndexPoint,
    IndexUnavailable,
    PointNotFound,
    ServerIndex,
    VectorIndex,
    open_index,
)

DIM = 16
REPO_ROOT = Path(__file__).resolve().parents[2]


def unit(axis: int, dim: int = DIM) -> list[float]:
    vector = [0.0] * dim
    vector[axis] = 1.0
    return vector


def blend(weights: dict[int, float], dim: int = DIM) -> list[float]:
    vector = [0.0] * dim
    for axis, weight in weights.items():
        vector[axis] = weight
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def new_id() -> str:
    return str(uuid.uuid4())


def point(text: str, *, dense: list[float] | None = None, project: str | None = None, kind: str = "lesson",
          tags: tuple[str, ...] = (), point_id: str | None = None) -> IndexPoint:
    return IndexPoint(
        id=point_id or new_id(), text=text, dense=dense,
        payload={"project": project, "kind": kind, "tags": list(tags)},
    )


def ids(hits: list[Hit]) -> list[str]:
    return [hit.id for hit in hits]


@pytest.fixture(params=["embedded", "server"])
def index(request, tmp_path) -> VectorIndex:
    if request.param == "embedded":
        return EmbeddedIndex(tmp_path / "memory", dim=DIM)
    return ServerIndex(QdrantClient(":memory:"), collection="test_memory", dim=DIM)


@pytest.fixture
def lessons(index) -> dict[str, IndexPoint]:
    points = {
        "django_db": point("pytest fixture db requires @pytest.mark.django_db", dense=unit(0),
                           project="factory", kind="lesson", tags=("pytest", "django")),
        "rls": point("use RLSContextManager.query() for tenant queries", dense=unit(1),
                     project="nexo", kind="lesson", tags=("rls", "postgres")),
        "deadlock": point("ventas tests failed with deadlock detected on the stock row", dense=unit(2),
                          project="nexo", kind="error", tags=("postgres", "jest")),
        "pdf": point("decision: invoices are streamed as PDF with pdfkit", dense=unit(3),
                     project=None, kind="decision", tags=("pdf",)),
        "no_dense": point("wrap every express route handler in asyncHandler", dense=None,
                          project="nexo", kind="lesson", tags=("express",)),
    }
    index.upsert(list(points.values()))
    return points


def test_backends_satisfy_the_protocol(index):
    assert isinstance(index, VectorIndex)


def test_upsert_stores_every_point(index, lessons):
    assert index.count() == len(lessons)


def test_search_returns_the_matching_item_first_with_scores_descending(index, lessons):
    hits = index.search(text="deadlock detected in ventas stock tests", dense=unit(2), k=5)

    assert hits[0].id == lessons["deadlock"].id
    assert hits[0].payload == {"project": "nexo", "kind": "error", "tags": ["postgres", "jest"]}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_respects_k(index, lessons):
    assert len(index.search(text="tests tenant pdf express pytest", dense=unit(0), k=2)) == 2


def test_upsert_with_an_existing_id_replaces_the_point(index, lessons):
    replaced = point("celery was replaced by huey queues", dense=unit(4), point_id=lessons["pdf"].id)
    index.upsert([replaced])

    assert index.count() == len(lessons)
    assert index.search(text="pdfkit invoices", dense=None, k=5) == []
    assert ids(index.search(text="celery huey", dense=None, k=5)) == [replaced.id]


def test_filter_by_project_is_exact_and_none_means_any(index, lessons):
    query = {"text": "tests tenant queries pytest handler", "dense": unit(0), "k": 10}

    nexo = set(ids(index.search(**query, project="nexo")))
    anywhere = set(ids(index.search(**query)))

    assert nexo == {lessons[name].id for name in ("rls", "deadlock", "no_dense")}
    assert anywhere > nexo
    assert index.search(**{**query, "text": "tests"}, project="nex") == []


def test_filter_by_kind(index, lessons):
    hits = index.search(text="tests tenant queries pytest pdf", dense=unit(3), k=10, kind="error")

    assert ids(hits) == [lessons["deadlock"].id]


def test_filter_by_tags_matches_items_with_any_of_them(index, lessons):
    hits = index.search(text="tests tenant queries pytest pdf", dense=unit(0), k=10, tags=["pdf", "rls"])

    assert set(ids(hits)) == {lessons["pdf"].id, lessons["rls"].id}


def test_filters_combine(index, lessons):
    hits = index.search(text="tests tenant queries stock", dense=unit(1), k=10, project="nexo", tags=["postgres"],
                        kind="lesson")

    assert ids(hits) == [lessons["rls"].id]


def test_empty_tag_list_does_not_filter(index, lessons):
    query = {"text": "tests tenant", "dense": unit(0), "k": 10}

    assert ids(index.search(**query, tags=[])) == ids(index.search(**query)) != []


def test_delete_removes_points_and_ignores_unknown_ids(index, lessons):
    index.delete([lessons["rls"].id, new_id()])

    assert index.count() == len(lessons) - 1
    assert lessons["rls"].id not in ids(index.search(text="RLSContextManager tenant queries", dense=unit(1), k=5))


def test_points_without_dense_still_match_on_bm25(index, lessons):
    hits = index.search(text="express asyncHandler", dense=unit(0), k=5)

    assert lessons["no_dense"].id in ids(hits)
    assert lessons["no_dense"].id not in ids(index.search(text="", dense=unit(0), k=10))


def test_query_without_dense_ranks_by_bm25_only(index, lessons):
    hits = index.search(text="pytest django_db fixture", dense=None, k=5)

    assert ids(hits) == [lessons["django_db"].id]
    assert hits[0].score > 0


def test_query_with_only_dense_ranks_by_vector(index, lessons):
    hits = index.search(text="", dense=blend({3: 1.0, 2: 0.3}), k=2)

    assert ids(hits) == [lessons["pdf"].id, lessons["deadlock"].id]


def test_query_with_nothing_searchable_returns_nothing(index, lessons):
    assert index.search(text="the of and", dense=None, k=5) == []


def test_set_dense_makes_a_bm25_only_point_reachable_by_vector(index, lessons):
    index.set_dense(id=lessons["no_dense"].id, dense=unit(7))

    assert ids(index.search(text="", dense=unit(7), k=1)) == [lessons["no_dense"].id]
    assert index.count() == len(lessons)


def test_set_dense_on_an_unknown_point_raises(index, lessons):
    with pytest.raises(PointNotFound, match="not in the index"):
        index.set_dense(id=new_id(), dense=unit(0))


def test_hybrid_fusion_lifts_an_item_both_signals_agree_on(index):
    # BM25 ranks "keyword" first (the query terms twice) and "agreed" second; the dense vector
    # puts "agreed" first and never reaches "keyword". RRF must put "agreed" on top.
    keyword = point("worktree prune worktree prune fatal", dense=unit(5))
    agreed = point("git worktree prune before retrying the ticket branch", dense=blend({0: 1.0, 1: 0.2}))
    dense_only = point("stale checkouts block new branches", dense=blend({0: 1.0, 1: 0.5}))
    index.upsert([keyword, agreed, dense_only])
    query_dense = unit(0)

    bm25 = index.search(text="worktree prune", dense=None, k=3)
    hybrid = index.search(text="worktree prune", dense=query_dense, k=3)

    assert ids(bm25) == [keyword.id, agreed.id]
    assert ids(hybrid) == [agreed.id, keyword.id, dense_only.id]
    assert hybrid[0].score == pytest.approx(1 / 60 + 1 / 61)


def test_hybrid_with_hashing_embedder_finds_identifiers_bm25_misses(index):
    embedder = HashingEmbedder(DIM * 4)
    index.reset(dim=embedder.dim)
    texts = {
        "identifier": "Always call RLSContextManager.query() in controllers",
        "other_manager": "the release manager signs the tag",
        "other_context": "context menus open on right click",
        "unrelated_1": "pin the node version in .nvmrc",
        "unrelated_2": "invoices are stamped by the PAC",
        "unrelated_3": "use data-testid selectors in e2e tests",
    }
    points = {name: point(text, dense=embedder.embed_documents([text])[0]) for name, text in texts.items()}
    index.upsert(list(points.values()))
    question = "rls context manager"

    bm25 = ids(index.search(text=question, dense=None, k=3))
    hybrid = ids(index.search(text=question, dense=embedder.embed_query(question), k=3))

    assert set(bm25) == {points["other_manager"].id, points["other_context"].id}
    assert points["identifier"].id in hybrid


def test_dense_of_the_wrong_dimension_is_rejected_with_the_reset_hint(index, lessons):
    with pytest.raises(IndexMismatch, match="memory_reembed --reset"):
        index.upsert([point("short vector", dense=[1.0, 0.0])])
    with pytest.raises(IndexMismatch, match="has 3 dimensions"):
        index.search(text="x", dense=[1.0, 0.0, 0.0], k=1)
    with pytest.raises(IndexMismatch):
        index.set_dense(id=lessons["no_dense"].id, dense=[1.0])


def test_invalid_arguments_are_rejected_clearly(index):
    with pytest.raises(ValueError, match="not a UUID"):
        index.upsert([point("x", point_id="item-1")])
    with pytest.raises(ValueError, match="not a UUID"):
        index.delete(["item-1"])
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(text="x", dense=None, k=0)
    with pytest.raises(ValueError, match="embed_model"):
        index.write_meta({"model": "x"})


def test_meta_is_none_until_written_and_round_trips(index):
    assert index.meta() is None
    index.write_meta({"embed_model": "nomic-embed-text", "dim": DIM})
    assert index.meta() == {"embed_model": "nomic-embed-text", "dim": DIM}


def test_check_compatible_labels_a_fresh_index_then_accepts_the_same_model(index):
    index.check_compatible(embed_model="nomic-embed-text", dim=DIM)
    index.upsert([point("lesson", dense=unit(0))])

    index.check_compatible(embed_model="nomic-embed-text", dim=DIM)
    assert index.meta() == {"embed_model": "nomic-embed-text", "dim": DIM}


def test_check_compatible_detects_a_model_change(index):
    index.check_compatible(embed_model="nomic-embed-text", dim=DIM)

    with pytest.raises(IndexMismatch) as raised:
        index.check_compatible(embed_model="mxbai-embed-large", dim=DIM)
    assert "'nomic-embed-text'" in str(raised.value) and "'mxbai-embed-large'" in str(raised.value)
    assert RESET_COMMAND in str(raised.value)


def test_check_compatible_detects_a_dimension_change(index):
    with pytest.raises(IndexMismatch, match=f"stores {DIM}-dim vectors but the embedder makes 1024"):
        index.check_compatible(embed_model="mxbai-embed-large", dim=1024)


def test_check_compatible_refuses_dense_vectors_of_unknown_origin(index, lessons):
    with pytest.raises(IndexMismatch, match="4 points .* unrecorded embedding model"):
        index.check_compatible(embed_model="nomic-embed-text", dim=DIM)


def test_check_compatible_labels_an_index_holding_only_bm25_points(index):
    index.upsert([point("stored while the embedder was down")])

    index.check_compatible(embed_model="nomic-embed-text", dim=DIM)
    assert index.meta() == {"embed_model": "nomic-embed-text", "dim": DIM}


def test_reset_drops_everything_and_changes_the_dimension(index, lessons):
    index.write_meta({"embed_model": "nomic-embed-text", "dim": DIM})

    index.reset(dim=8)

    assert index.count() == 0
    assert index.meta() is None
    assert index.dim == 8
    index.upsert([point("re-embedded", dense=unit(0, dim=8))])
    assert index.count() == 1
    with pytest.raises(IndexMismatch):
        index.upsert([point("old size", dense=unit(0))])


# --- embedded engine ---------------------------------------------------------------------------


def test_embedded_index_persists_across_instances(tmp_path):
    stored = point("persisted lesson about flock", dense=unit(0))
    EmbeddedIndex(tmp_path / "memory", dim=DIM).upsert([stored])
    EmbeddedIndex(tmp_path / "memory", dim=DIM).write_meta({"embed_model": "m", "dim": DIM})

    reopened = EmbeddedIndex(tmp_path / "memory", dim=DIM)

    assert reopened.count() == 1
    assert ids(reopened.search(text="flock", dense=unit(0), k=1)) == [stored.id]
    assert reopened.meta() == {"embed_model": "m", "dim": DIM}


def test_embedded_index_keeps_its_stored_dimension_when_opened_with_another(tmp_path):
    EmbeddedIndex(tmp_path / "memory", dim=DIM).upsert([point("x", dense=unit(0))])

    reopened = EmbeddedIndex(tmp_path / "memory", dim=768)

    assert reopened.dim == DIM
    with pytest.raises(IndexMismatch, match="memory_reembed --reset"):
        reopened.check_compatible(embed_model="nomic-embed-text", dim=768)


def test_embedded_session_serves_several_operations_with_one_open(tmp_path):
    index = EmbeddedIndex(tmp_path / "memory", dim=DIM)
    with index.session():
        index.upsert([point("inside a session", dense=unit(0))])
        assert index.count() == 1
        assert len(index.search(text="session", dense=unit(0), k=1)) == 1
        with pytest.raises(RuntimeError, match="inside a session"):
            index.reset(dim=DIM)
    assert index.count() == 1


def test_embedded_index_reports_an_owner_that_does_not_answer(tmp_path):
    index = EmbeddedIndex(tmp_path / "memory", dim=DIM)
    index.count()
    index.close()
    index.LOCK_TIMEOUT_SECONDS = 0.2
    holder = os.open(tmp_path / "memory" / ".lock", os.O_RDWR)  # an owner that never answers a request
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with pytest.raises(IndexUnavailable, match="the process owning it .* did not answer within 0.2 s"):
            index.count()
    finally:
        os.close(holder)
    assert index.count() == 0


def test_embedded_index_reports_an_unusable_folder(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index folder should be")

    with pytest.raises(IndexUnavailable, match="cannot use memory index folder"):
        EmbeddedIndex(blocker / "memory", dim=DIM).count()


def test_embedded_index_reports_a_missing_layout_record(tmp_path):
    index = EmbeddedIndex(tmp_path / "memory", dim=DIM)
    index.count()
    index.close()
    (tmp_path / "memory" / "index.json").unlink()

    with pytest.raises(IndexUnavailable, match="memory_reembed --reset"):
        index.count()
    index.reset(dim=DIM)
    assert index.count() == 0


def test_embedded_index_serialises_threads_sharing_one_instance(tmp_path):
    index = EmbeddedIndex(tmp_path / "memory", dim=DIM)
    failures: list[BaseException] = []

    def write_and_search(worker: int) -> None:
        try:
            for n in range(10):
                stored = point(f"thread{worker}item{n} lesson", dense=unit((worker + n) % DIM))
                index.upsert([stored])
                assert ids(index.search(text=f"thread{worker}item{n}", dense=None, k=1)) == [stored.id]
        except BaseException as exc:  # handed to the main thread, which fails the test
            failures.append(exc)

    threads = [threading.Thread(target=write_and_search, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert index.count() == 30


WORKER = """
import json, sys
from memory.index import EmbeddedIndex, IndexPoint
path = sys.argv[1]
worker, rounds, per_round, dim = (int(argument) for argument in sys.argv[2:6])
index = EmbeddedIndex(path, dim=dim)
stored, problems = [], []
for round_number in range(rounds):
    batch = []
    for n in range(per_round):
        token = f"w{worker}r{round_number}n{n}"
        point_id = "%08x-0000-4000-8000-%012x" % (worker, round_number * per_round + n)
        vector = [0.0] * dim
        vector[(round_number + n) % dim] = 1.0
        batch.append(IndexPoint(id=point_id, text=f"lesson {token} from worker {worker}", dense=vector,
                                payload={"project": f"p{worker}", "kind": "lesson", "tags": [token]}))
    index.upsert(batch)
    stored.extend(p.id for p in batch)
    newest = batch[-1]
    hits = index.search(text=newest.payload["tags"][0], dense=newest.dense, k=3, project=f"p{worker}")
    if not hits or hits[0].id != newest.id:
        problems.append(f"round {round_number}: own write not found first")
print(json.dumps({"stored": stored, "problems": problems}))
"""


def test_embedded_index_survives_two_processes_writing_and_searching_at_once(tmp_path):
    path, rounds, per_round = tmp_path / "memory", 10, 4
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(worker), str(rounds), str(per_round), str(DIM)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
        )
        for worker in (1, 2)
    ]
    results = []
    for process in workers:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout))

    assert [r["problems"] for r in results] == [[], []]
    index = EmbeddedIndex(path, dim=DIM)
    assert index.count() == 2 * rounds * per_round
    with index.session():
        for worker, result in zip((1, 2), results, strict=True):
            for point_id in result["stored"]:
                round_number, n = divmod(int(point_id.split("-")[-1], 16), per_round)
                token = f"w{worker}r{round_number}n{n}"
                assert ids(index.search(text=token, dense=None, k=1)) == [point_id]


# --- server backend and factory -------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_index_reports_an_unreachable_server():
    url = f"http://127.0.0.1:{closed_port()}"
    index = open_index(qdrant_url=url, data_dir=Path("/nonexistent"), dim=DIM)

    with pytest.raises(IndexUnavailable, match=f"Qdrant server at {url} is unreachable.*QDRANT_URL"):
        index.count()


class RefusingQdrant(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"status": {"error": "Service unavailable: shutting down"}}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_server_index_reports_a_refusing_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingQdrant)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        index = open_index(qdrant_url=url, data_dir=Path("/nonexistent"), dim=DIM)
        expected = "rejected a request on collection 'factory_memory': HTTP 503 .*shutting down"
        with pytest.raises(IndexUnavailable, match=expected):
            index.count()
    finally:
        server.shutdown()
        server.server_close()


def test_open_index_picks_the_embedded_engine_without_a_url(tmp_path):
    index = open_index(qdrant_url="", data_dir=tmp_path, dim=DIM)

    assert isinstance(index, EmbeddedIndex)
    assert index.path == tmp_path / "memory"
    index.upsert([point("x", dense=unit(0))])
    assert (tmp_path / "memory" / "shard").is_dir()


def test_open_index_picks_the_server_with_a_url(tmp_path):
    index = open_index(qdrant_url=" http://qdrant:6333 ", data_dir=tmp_path, dim=DIM)

    assert isinstance(index, ServerIndex)
    assert index.client.init_options["url"] == "http://qdrant:6333"
