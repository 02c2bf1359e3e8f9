"""Benchmark of the shared memory's embedded index (qdrant-edge) on a realistic corpus.

Usage: .venv/bin/python bench/memory.py [--items 10000] [--batch 100] [--dim 768] [--dir /tmp]

Stores the corpus in a temporary EmbeddedIndex in batches (as an import would), then reports
store throughput, reopen cost, search latency (query vectors pre-computed, so the embedding
call is excluded) and recall@5 of BM25 alone vs hybrid with the HashingEmbedder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Running `python bench/memory.py` puts bench/ first on sys.path, where this very file would
# shadow the `memory` package; the repository root must come first instead.
sys.path[0] = str(REPO_ROOT)

from bench.data.memory_corpus import CorpusItem, LabelledQuery, build_corpus  # noqa: E402
from memory.embeddings import HashingEmbedder  # noqa: E402
from memory.index import EmbeddedIndex, Hit, IndexPoint  # noqa: E402

RECALL_AT = 5
SEARCH_LATENCY_TARGET_MS = 20.0
# Each per-call search reopens the shard (tens of ms), so those rows use a sample of the queries
# to keep the whole run well under two minutes on two cores.
PER_CALL_SAMPLE = 100


@dataclass
class Latency:
    p50_ms: float
    p95_ms: float


@dataclass
class PreparedQuery:
    text: str
    dense: list[float]
    relevant: frozenset[str]
    project: str | None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(calls: list[Callable[[], object]]) -> Latency:
    durations = []
    for call in calls:
        start = time.perf_counter()
        call()
        durations.append((time.perf_counter() - start) * 1000)
    return Latency(p50_ms=percentile(durations, 0.5), p95_ms=percentile(durations, 0.95))


def index_points(items: list[CorpusItem], vectors: list[list[float]]) -> list[IndexPoint]:
    return [
        IndexPoint(
            id=item.id, text=item.text, dense=vector,
            payload={"project": item.project, "kind": item.kind, "tags": list(item.tags)},
        )
        for item, vector in zip(items, vectors)
    ]


def store(index: EmbeddedIndex, points: list[IndexPoint], *, batch: int) -> float:
    start = time.perf_counter()
    for offset in range(0, len(points), batch):
        index.upsert(points[offset : offset + batch])
    return len(points) / (time.perf_counter() - start)


def prepare_queries(
    queries: list[LabelledQuery], embedder: HashingEmbedder, items_by_id: dict[str, CorpusItem]
) -> list[PreparedQuery]:
    return [
        PreparedQuery(
            text=query.text,
            dense=embedder.embed_query(query.text),
            relevant=query.relevant,
            project=items_by_id[next(iter(query.relevant))].project,
        )
        for query in queries
    ]


def search_calls(index: EmbeddedIndex, queries: list[PreparedQuery], *, hybrid: bool, filtered: bool = False):
    return [
        lambda q=q: index.search(
            text=q.text, dense=q.dense if hybrid else None, k=RECALL_AT, project=q.project if filtered else None
        )
        for q in queries
    ]


def recall(hits_per_query: list[list[Hit]], queries: list[PreparedQuery]) -> float:
    found = [len(q.relevant & {hit.id for hit in hits}) / len(q.relevant) for hits, q in zip(hits_per_query, queries)]
    return sum(found) / len(found)


def recall_at_k(index: EmbeddedIndex, queries: list[PreparedQuery], *, hybrid: bool) -> float:
    with index.session():
        hits = [call() for call in search_calls(index, queries, hybrid=hybrid)]
    return recall(hits, queries)


def reopen_latency(index: EmbeddedIndex, *, rounds: int = 20) -> Latency:
    def open_and_close() -> None:
        with index.session():
            pass

    return measure([open_and_close] * rounds)


def session_latency(index: EmbeddedIndex, calls: list[Callable[[], object]]) -> Latency:
    with index.session():
        return measure(calls)


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print("-" * (width + 30))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("-" * (width + 30))


def latency_cell(latency: Latency) -> str:
    return f"p50 {latency.p50_ms:7.2f} ms   p95 {latency.p95_ms:7.2f} ms"


def latency_rows(index: EmbeddedIndex, prepared: list[PreparedQuery]) -> list[tuple[str, Latency]]:
    sample = prepared[:: max(1, len(prepared) // PER_CALL_SAMPLE)]
    return [
        ("reopen (lock + open + close shard)", reopen_latency(index)),
        ("search BM25, per call (opens the shard)", measure(search_calls(index, sample, hybrid=False))),
        ("search hybrid, per call (opens the shard)", measure(search_calls(index, sample, hybrid=True))),
        ("search hybrid + project filter, per call",
         measure(search_calls(index, sample, hybrid=True, filtered=True))),
        ("search BM25, inside one session", session_latency(index, search_calls(index, prepared, hybrid=False))),
        ("search hybrid, inside one session", session_latency(index, search_calls(index, prepared, hybrid=True))),
        ("search hybrid + project filter, inside one session",
         session_latency(index, search_calls(index, prepared, hybrid=True, filtered=True))),
    ]


def verdict(latencies: dict[str, Latency]) -> str:
    per_call = latencies["search hybrid, per call (opens the shard)"].p50_ms
    in_session = latencies["search hybrid, inside one session"].p50_ms
    return (
        f"target search p50 <= {SEARCH_LATENCY_TARGET_MS:.0f} ms: hybrid inside a session {in_session:.1f} ms "
        f"({'met' if in_session <= SEARCH_LATENCY_TARGET_MS else 'MISSED'}); a lone call, which reopens the "
        f"shard, {per_call:.1f} ms ({'met' if per_call <= SEARCH_LATENCY_TARGET_MS else 'MISSED'})"
    )


def run(*, items: int, batch: int, dim: int, parent: str | None) -> None:
    corpus, queries = build_corpus(total_items=items)
    embedder = HashingEmbedder(dim)
    start = time.perf_counter()
    points = index_points(corpus, embedder.embed_documents([item.text for item in corpus]))
    embed_seconds = time.perf_counter() - start
    prepared = prepare_queries(queries, embedder, {item.id: item for item in corpus})

    with tempfile.TemporaryDirectory(prefix="memory-bench-", dir=parent) as folder:
        index = EmbeddedIndex(Path(folder) / "memory", dim=dim)
        index.check_compatible(embed_model=embedder.model, dim=dim)
        throughput = store(index, points, batch=batch)
        count = index.count()
        latencies = latency_rows(index, prepared)
        recalls = [recall_at_k(index, prepared, hybrid=False), recall_at_k(index, prepared, hybrid=True)]

    print(f"memory index benchmark: {count} items (dim {dim}, batches of {batch}), {len(prepared)} labelled queries, "
          f"index under {parent or tempfile.gettempdir()}")
    print_table([
        ("hashing embedder, all documents (excluded below)", f"{embed_seconds:7.2f} s"),
        ("store throughput (upsert per batch, lock+open+flush)", f"{throughput:7.0f} items/s"),
        *[(label, latency_cell(latency)) for label, latency in latencies],
        (f"recall@{RECALL_AT} BM25 only", f"{recalls[0]:7.3f}"),
        (f"recall@{RECALL_AT} hybrid (BM25 + hashing dense, RRF k=60)", f"{recalls[1]:7.3f}"),
    ])
    print(verdict(dict(latencies)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items stored (labelled facts + distractors)")
    parser.add_argument("--batch", type=int, default=100, help="items per upsert call")
    parser.add_argument("--dim", type=int, default=768, help="dense vector dimension")
    parser.add_argument("--dir", default=None, help="parent folder of the temporary index (default: system temp)")
    arguments = parser.parse_args()
    run(items=arguments.items, batch=arguments.batch, dim=arguments.dim, parent=arguments.dir)


if __name__ == "__main__":
    main()
