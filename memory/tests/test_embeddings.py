"""OllamaEmbedder against a real HTTP server speaking Ollama's /api/embed; HashingEmbedder's properties."""

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from memory.embeddings import Embedder, EmbeddingUnavailable, HashingEmbedder, OllamaEmbedder

DIM = 12
SERVER_MODELS = {"nomic-embed-text": DIM, "small-model": 4}


class FakeOllama(ThreadingHTTPServer):
    """Records every /api/embed body; models: SERVER_MODELS, "slow" (sleeps), "short", "broken"."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EmbedHandler)
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class EmbedHandler(BaseHTTPRequestHandler):
    server: FakeOllama

    def log_message(self, format: str, *args) -> None:
        pass

    def do_POST(self) -> None:
        if self.path != "/api/embed":
            self.reply(404, {"error": "not found"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.reply(*self.answer(body["model"], body["input"]))

    def answer(self, model: str, inputs: list[str]) -> tuple[int, dict]:
        if model == "slow":
            time.sleep(1.0)
        if model == "broken":
            return 500, {"error": "llama runner process has terminated"}
        if model == "short":
            return 200, {"model": model, "embeddings": [[1.0] * DIM]}
        if model not in SERVER_MODELS and model != "slow":
            return 404, {"error": f'model "{model}" not found, try pulling it first'}
        dim = SERVER_MODELS.get(model, DIM)
        return 200, {"model": model, "embeddings": [fake_vector(text, dim) for text in inputs]}

    def reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def fake_vector(text: str, dim: int) -> list[float]:
    return [float((len(text) + i) % 7) for i in range(dim)]


@pytest.fixture
def ollama_server() -> Iterator[FakeOllama]:
    server = FakeOllama()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


# --- OllamaEmbedder ------------------------------------------------------------------------------


def test_documents_are_sent_with_the_document_prefix(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, dim=DIM)

    vectors = embedder.embed_documents(["use RLSContextManager", "wrap in asyncHandler"])

    assert ollama_server.requests == [{
        "model": "nomic-embed-text",
        "input": ["search_document: use RLSContextManager", "search_document: wrap in asyncHandler"],
    }]
    assert vectors == [fake_vector("search_document: use RLSContextManager", DIM),
                       fake_vector("search_document: wrap in asyncHandler", DIM)]


def test_queries_are_sent_with_the_query_prefix(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, dim=DIM)

    vector = embedder.embed_query("tenant queries")

    assert ollama_server.requests[0]["input"] == ["search_query: tenant queries"]
    assert vector == fake_vector("search_query: tenant queries", DIM)


def test_many_documents_are_sent_in_batches_and_keep_their_order(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, dim=DIM)
    texts = [f"lesson number {n}" + "x" * n for n in range(OllamaEmbedder.BATCH_SIZE + 5)]

    vectors = embedder.embed_documents(texts)

    assert [len(r["input"]) for r in ollama_server.requests] == [OllamaEmbedder.BATCH_SIZE, 5]
    assert vectors == [fake_vector("search_document: " + text, DIM) for text in texts]


def test_no_documents_means_no_request(ollama_server):
    assert OllamaEmbedder(ollama_server.url, dim=DIM).embed_documents([]) == []
    assert ollama_server.requests == []


def test_a_missing_model_tells_the_user_to_pull_it(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, model="mxbai-embed-large", dim=DIM)

    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed_query("anything")

    message = str(raised.value)
    assert "`ollama pull mxbai-embed-large`" in message
    assert ollama_server.url in message


def test_an_unreachable_server_names_host_and_model():
    url = closed_port_url()
    embedder = OllamaEmbedder(url, dim=DIM)

    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed_documents(["x"])

    assert f"unreachable at {url}" in str(raised.value)
    assert "'nomic-embed-text'" in str(raised.value)


def test_a_vector_of_another_dimension_is_refused(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, model="small-model", dim=DIM)

    with pytest.raises(EmbeddingUnavailable, match=f"returns 4-dim vectors, but the memory is configured for {DIM}"):
        embedder.embed_query("x")


def test_a_slow_server_times_out_with_a_clear_error(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, model="slow", dim=DIM, timeout=0.2)

    with pytest.raises(EmbeddingUnavailable, match="did not answer the embedding request for 'slow'"):
        embedder.embed_query("x")


def test_a_server_error_is_reported_with_its_reason(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, model="broken", dim=DIM)

    with pytest.raises(EmbeddingUnavailable, match="llama runner process has terminated .HTTP 500."):
        embedder.embed_query("x")


def test_a_wrong_number_of_embeddings_is_refused(ollama_server):
    embedder = OllamaEmbedder(ollama_server.url, model="short", dim=DIM)

    with pytest.raises(EmbeddingUnavailable, match="returned 1 embeddings for 2 texts"):
        embedder.embed_documents(["a", "b"])


def test_both_embedders_satisfy_the_protocol(ollama_server):
    assert isinstance(OllamaEmbedder(ollama_server.url), Embedder)
    assert isinstance(HashingEmbedder(), Embedder)


# --- HashingEmbedder -----------------------------------------------------------------------------


def test_hashing_embedder_is_deterministic_normalised_and_sized():
    first = HashingEmbedder(64).embed_documents(["migrations failed on deploy"])[0]
    again = HashingEmbedder(64).embed_query("migrations failed on deploy")

    assert first == again
    assert len(first) == 64
    assert math.isclose(sum(v * v for v in first), 1.0)


def test_hashing_embedder_names_its_dimension():
    assert HashingEmbedder(384).model != HashingEmbedder(768).model


def test_hashing_embedder_puts_related_wording_closer_than_unrelated():
    embedder = HashingEmbedder()
    lesson, paraphrase, unrelated = embedder.embed_documents([
        "database migrations failed on deploy",
        "the migration fails while deploying",
        "react warns about a unique key prop",
    ])

    assert cosine(lesson, paraphrase) > cosine(lesson, unrelated) + 0.2


def test_hashing_embedder_splits_identifiers_and_folds_accents():
    embedder = HashingEmbedder()

    assert cosine(embedder.embed_query("rls context manager"), embedder.embed_query("RLSContextManager")) > 0.6
    assert embedder.embed_query("Nómina") == embedder.embed_query("nomina")


def test_hashing_embedder_ignores_function_words():
    embedder = HashingEmbedder()

    assert embedder.embed_query("how to fix the tenant query") == embedder.embed_query("fix tenant query")


def test_hashing_embedder_of_empty_text_is_the_zero_vector():
    assert HashingEmbedder(16).embed_query("the of") == [0.0] * 16


def test_hashing_embedder_refuses_tiny_dimensions():
    with pytest.raises(ValueError, match="at least 8 dimensions"):
        HashingEmbedder(4)
