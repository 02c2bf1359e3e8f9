"""The Qdrant engine (qdrant-edge-py) on a shard folder, driven by the one process that owns it.

Over 400 lines because the engine adapter, its operations and the HNSW recall check belong together.

Only the owner (memory/owner.py elects it) calls a Shard; every other process sends it the same
operations over the owner's socket (memory/index_embedded.py). So nothing here locks: the owner
runs one operation at a time. Writes go to the engine's write-ahead log and are answered once
applied, so an owner that dies loses no acknowledged write (the next owner replays the log);
the owner flushes when idle and when it closes.

Layout of the folder: shard/ (engine files), index.json (dense dimension), meta.json (embedding
model record), .lock and the socket .owner (memory/owner.py).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import qdrant_edge as edge

from lib.languages import DEFAULT_LANGUAGE
from memory import bm25
from memory.index_base import (
    DENSE_VECTOR,
    EXACT_DENSE_MAX_POINTS,
    FILTER_FIELDS,
    HNSW_MIN_RECALL,
    LANGUAGE_FIELD,
    RESET_COMMAND,
    RRF_K,
    SPARSE_VECTOR,
    Hit,
    IndexPoint,
    IndexUnavailable,
    PointNotFound,
    check_compatible,
    prefetch_limit,
    require_dim,
    require_k,
    require_uuid,
    stored_payload,
    validate_meta,
    validate_points,
    visible_payload,
)

HNSW_M = 16
HNSW_EF_CONSTRUCT = 100
HNSW_EF_CHOICES = (128, 256)
HNSW_CHECK_QUERIES = 32
FLOAT16_BYTES = 2


@dataclass
class OpenShard:
    shard: edge.EdgeShard
    dim: int
    wal: bool  # False for shards made before the WAL: each write is flushed at once


def _edge_filter(*, project: str | None, kind: str | None, tags: list[str] | None) -> edge.Filter | None:
    conditions: list[edge.ConditionType] = []
    if project is not None:
        conditions.append(edge.FieldCondition("project", match=edge.MatchValue(project)))
    if kind is not None:
        conditions.append(edge.FieldCondition("kind", match=edge.MatchValue(kind)))
    if tags:
        conditions.append(edge.FieldCondition("tags", match=edge.MatchAny(list(tags))))
    return edge.Filter(must=conditions) if conditions else None


def _other_language_filter(*, language: str, project: str | None) -> edge.Filter:
    """Points of the project (None: of no project) indexed in another language than `language`."""
    scope = edge.FieldCondition("project", match=edge.MatchValue(project)) if project is not None \
        else edge.IsNullCondition("project")
    same: list[edge.ConditionType] = [edge.FieldCondition(LANGUAGE_FIELD, match=edge.MatchValue(language))]
    if language == DEFAULT_LANGUAGE:
        same.append(edge.IsEmptyCondition(LANGUAGE_FIELD))  # indexed before languages were recorded: English
    return edge.Filter(must=[scope], must_not=same)


def _edge_config(dim: int) -> edge.EdgeConfig:
    # A WAL: a write is an append (0.05 ms) that survives the process's death (the next holder
    # replays it), where a flush per write cost ~90 ms on this disk; the holder flushes when idle
    # and when it closes. Float16 halves what exact scoring reads (recall@5 in bench/memory.py
    # unchanged). Segments under EXACT_DENSE_MAX_POINTS get no HNSW graph and are always scanned
    # exactly; bigger ones get one when optimize() runs.
    exact_kb = EXACT_DENSE_MAX_POINTS * dim * FLOAT16_BYTES // 1024
    return edge.EdgeConfig(
        vectors={DENSE_VECTOR: edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine,
                                                     datatype=edge.VectorStorageDatatype.Float16)},
        sparse_vectors={SPARSE_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        hnsw_config=edge.HnswIndexConfig(m=HNSW_M, ef_construct=HNSW_EF_CONSTRUCT, full_scan_threshold=exact_kb),
        optimizers=edge.EdgeOptimizersConfig(indexing_threshold=exact_kb),
        wal_enabled=True,
    )


def _payload_index_schema(field: str):
    if field == "project":
        return edge.KeywordIndexParams(is_tenant=True)  # stores each project's points together
    return edge.PayloadSchemaType.Keyword


def _ensure_payload_indexes(shard: edge.EdgeShard) -> None:
    """Keyword indexes on the filter fields; added to a shard made before they existed."""
    present = shard.info().payload_schema
    missing = [name for name in (*FILTER_FIELDS, LANGUAGE_FIELD) if name not in present]
    for name in missing:
        shard.update(edge.UpdateOperation.create_field_index(name, _payload_index_schema(name)))
    if missing:
        shard.flush()


def _edge_point(point: IndexPoint) -> edge.Point:
    vectors: dict = {SPARSE_VECTOR: bm25.document_vector(point.text, point.language)}
    if point.dense is not None:
        vectors[DENSE_VECTOR] = list(point.dense)
    return edge.Point(point.id, vectors, stored_payload(point))


def _edge_hits(scored: list) -> list[Hit]:
    return [Hit(id=str(point.id), score=float(point.score), payload=visible_payload(point.payload))
            for point in scored]


def _edge_query(
    *, sparse: edge.SparseVector, dense: list[float] | None, k: int, query_filter: edge.Filter | None,
    dense_params: edge.SearchParams | None,
) -> edge.QueryRequest | None:
    branches: list[tuple[edge.Query, edge.SearchParams | None]] = []  # (query, search params)
    if sparse.indices:
        branches.append((edge.Query.Nearest(sparse, using=SPARSE_VECTOR), None))
    if dense is not None:
        branches.append((edge.Query.Nearest(list(dense), using=DENSE_VECTOR), dense_params))
    if not branches:
        return None
    if len(branches) == 1:
        query, params = branches[0]
        return edge.QueryRequest(limit=k, query=query, params=params, filter=query_filter, with_payload=True)
    prefetches = [
        edge.Prefetch(limit=prefetch_limit(k), query=query, params=params, filter=query_filter)
        for query, params in branches
    ]
    return edge.QueryRequest(
        # Fusion.Rrf is a variant of the Fusion enum, an instance of Fusion at run time; the stub declares it as
        # a class nested in Fusion, unrelated to it.
        limit=k, prefetches=prefetches, query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]
        filter=query_filter, with_payload=True,
    )


def _dense_neighbours(shard: edge.EdgeShard, vector: list[float], *, params: edge.SearchParams,
                      query_filter: edge.Filter | None) -> set[str]:
    request = edge.QueryRequest(limit=prefetch_limit(5), query=edge.Query.Nearest(vector, using=DENSE_VECTOR),
                                params=params, filter=query_filter)
    return {str(point.id) for point in shard.query(request)}


@dataclass
class HnswCheck:
    """The recall check on this process's own queries that decides whether dense search may use HNSW.

    Above EXACT_DENSE_MAX_POINTS, the first HNSW_CHECK_QUERIES dense queries are answered exactly
    and also run through the graph at each hnsw_ef of HNSW_EF_CHOICES; searches then use the
    smallest hnsw_ef whose candidates overlapped the exact ones by HNSW_MIN_RECALL on average, or
    stay exact. Checked again when the index has grown by a quarter. Real queries, not stored
    vectors: a document's neighbours are easier to find than a question's.
    """

    overlaps: dict[int, list[float]] = field(default_factory=lambda: {ef: [] for ef in HNSW_EF_CHOICES})
    hnsw_ef: int | None = None
    points: int = 0
    done: bool = False

    def sample(self, shard: edge.EdgeShard, dense: list[float], query_filter: edge.Filter | None) -> None:
        exact = _dense_neighbours(shard, dense, params=edge.SearchParams(exact=True), query_filter=query_filter)
        for ef, overlaps in self.overlaps.items():
            graph = _dense_neighbours(shard, dense, params=edge.SearchParams(hnsw_ef=ef), query_filter=query_filter)
            overlaps.append(len(exact & graph) / len(exact) if exact else 1.0)

    def decide_if_sampled(self, points: int) -> None:
        if len(self.overlaps[HNSW_EF_CHOICES[0]]) < HNSW_CHECK_QUERIES:
            return
        passing = [ef for ef in HNSW_EF_CHOICES if statistics.mean(self.overlaps[ef]) >= HNSW_MIN_RECALL]
        self.hnsw_ef = passing[0] if passing else None
        self.points = points
        self.done = True

    def summary(self) -> dict:
        recall = {ef: round(statistics.mean(values), 3) for ef, values in self.overlaps.items() if values}
        mode = "checking" if not self.done else ("hnsw" if self.hnsw_ef else "exact")
        return {"mode": mode, "hnsw_ef": self.hnsw_ef, "recall_by_hnsw_ef": recall,
                "queries": len(self.overlaps[HNSW_EF_CHOICES[0]])}


class Shard:
    """The engine on one shard folder: opened on first use, kept open until close(), one operation at a time."""

    def __init__(self, path: Path, dim: int = 768, *, changed: Callable[[], None] = lambda: None) -> None:
        self.path = Path(path)
        self._requested_dim = dim
        self._changed = changed  # told after each logged write: the owner flushes once idle
        self._hnsw_check = HnswCheck()
        self._opened: OpenShard | None = None
        # What the owner runs for other processes, by name: nothing else of this object is reachable.
        self.operations: dict[str, Callable[..., object]] = {
            "upsert": self.upsert, "delete": self.delete, "set_dense": self.set_dense, "search": self.search,
            "count": self.count, "language_mismatches": self.language_mismatches, "write_meta": self.write_meta,
            "check_compatible": self.check_compatible, "dense_search": self.dense_search,
            "optimize": self.optimize, "reset": self.reset,
        }

    # -- layout -----------------------------------------------------------------------------

    @property
    def _shard_dir(self) -> Path:
        return self.path / "shard"

    @property
    def _layout_file(self) -> Path:
        return self.path / "index.json"

    @property
    def _meta_file(self) -> Path:
        return self.path / "meta.json"

    @property
    def dim(self) -> int:
        layout = _read_json(self._layout_file)
        return layout["dim"] if layout else self._requested_dim

    def meta(self) -> dict | None:
        return _read_json(self._meta_file)  # replaced atomically, so readable by any process at any time

    def meta_version(self) -> object:
        """Changes whenever meta.json is written or removed (a reset, a label)."""
        try:
            status = self._meta_file.stat()
        except FileNotFoundError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size

    # -- open, close ------------------------------------------------------------------------

    def _use(self) -> OpenShard:
        if self._opened is None:
            self._opened = self._open()
        return self._opened

    def _open(self) -> OpenShard:
        if not self._shard_dir.exists():
            shard = self._create_shard(self._requested_dim)
        elif not self._layout_file.exists():
            raise IndexUnavailable(
                f"memory index at {self.path} has no index.json (interrupted creation?); run `{RESET_COMMAND}`"
            )
        else:
            shard = self._load_shard()
        layout = _read_json(self._layout_file) or {}
        return OpenShard(shard=shard, dim=layout["dim"], wal=layout.get("wal", False))

    def _load_shard(self) -> edge.EdgeShard:
        try:
            shard = edge.EdgeShard.load(str(self._shard_dir))
            _ensure_payload_indexes(shard)
            return shard
        except Exception as exc:
            raise IndexUnavailable(f"cannot open memory index at {self.path}: {exc}; run `{RESET_COMMAND}`") from exc

    def _create_shard(self, dim: int) -> edge.EdgeShard:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            shard = edge.EdgeShard.create(str(self._shard_dir), _edge_config(dim))
            _ensure_payload_indexes(shard)
        except Exception as exc:
            raise IndexUnavailable(f"cannot create memory index at {self.path}: {exc}") from exc
        _write_json_atomically(self._layout_file, {"dim": dim, "wal": True})
        return shard

    def close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            opened.shard.flush()
            opened.shard.close()

    def flush(self) -> None:
        if self._opened is not None:
            self._opened.shard.flush()

    def abandon(self) -> None:
        """In a forked child: forget the parent's open shard without closing it (that would write its files)."""
        if self._opened is not None:
            _abandoned.append(self._opened)
        self._opened = None

    def _write(self, operation: edge.UpdateOperation) -> None:
        opened = self._use()
        opened.shard.update(operation)
        if opened.wal:
            self._changed()  # flushed when idle or closed; the WAL covers a crash until then
        else:
            opened.shard.flush()

    # -- the operations ---------------------------------------------------------------------

    def upsert(self, points: list[IndexPoint]) -> None:
        if not points:
            return
        validate_points(points, dim=self._use().dim)
        self._write(edge.UpdateOperation.upsert_points([_edge_point(p) for p in points]))

    def delete(self, ids: list[str]) -> None:
        for point_id in ids:
            require_uuid(point_id)
        if ids:
            self._write(edge.UpdateOperation.delete_points(list(ids)))

    def set_dense(self, *, id: str, dense: list[float]) -> None:
        require_uuid(id)
        opened = self._use()
        require_dim(dense, dim=opened.dim, point_id=id)
        if not opened.shard.retrieve([id], with_payload=False, with_vector=False):
            raise PointNotFound(f"memory point {id} is not in the index")
        self._write(edge.UpdateOperation.update_vectors([edge.PointVectors(id, {DENSE_VECTOR: list(dense)})]))

    def search(self, *, text: str, dense: list[float] | None, k: int, project: str | None = None,
               kind: str | None = None, tags: list[str] | None = None, language: str = DEFAULT_LANGUAGE,
               ) -> list[Hit]:
        require_k(k)
        opened = self._use()
        query_filter = _edge_filter(project=project, kind=kind, tags=tags)
        if dense is not None:
            require_dim(dense, dim=opened.dim)
        dense_params = self._dense_params(opened, dense, query_filter) if dense is not None else None
        request = _edge_query(sparse=bm25.query_vector(text, language), dense=dense, k=k,
                              query_filter=query_filter, dense_params=dense_params)
        return _edge_hits(opened.shard.query(request)) if request else []

    def _dense_params(self, opened: OpenShard, dense: list[float], query_filter: edge.Filter | None
                      ) -> edge.SearchParams:
        points = opened.shard.info().points_count
        if points <= EXACT_DENSE_MAX_POINTS:
            return edge.SearchParams(exact=True)
        check = self._hnsw_check
        if check.done and points > check.points * 1.25:
            check = self._hnsw_check = HnswCheck()  # grown by a quarter since: check again
        if check.done:
            return edge.SearchParams(hnsw_ef=check.hnsw_ef) if check.hnsw_ef else edge.SearchParams(exact=True)
        check.sample(opened.shard, dense, query_filter)
        check.decide_if_sampled(points)
        return edge.SearchParams(exact=True)

    def dense_search(self) -> dict:
        """How the owner scores dense vectors now: exact, or HNSW after its recall check (HnswCheck)."""
        points = self._use().shard.info().points_count
        if points <= EXACT_DENSE_MAX_POINTS:
            return {"mode": "exact", "points": points, "reason": f"at most {EXACT_DENSE_MAX_POINTS} points"}
        return {"points": points, **self._hnsw_check.summary()}

    def count(self) -> int:
        return self._use().shard.count(edge.CountRequest(exact=True))

    def language_mismatches(self, *, language: str, project: str | None) -> int:
        other = _other_language_filter(language=language, project=project)
        return self._use().shard.count(edge.CountRequest(filter=other, exact=True))

    def write_meta(self, meta: dict) -> None:
        validate_meta(meta)
        _write_json_atomically(self._meta_file, dict(meta))

    def check_compatible(self, *, embed_model: str, dim: int) -> None:
        opened = self._use()
        with_dense = edge.Filter(must=[edge.HasVectorCondition(DENSE_VECTOR)])
        dense_count = opened.shard.count(edge.CountRequest(filter=with_dense, exact=True))
        check_compatible(self, stored_dim=opened.dim, dense_count=dense_count, embed_model=embed_model, dim=dim)

    def optimize(self) -> dict:
        """Compact the segments, building HNSW graphs for those over the exact size (slow on big indexes)."""
        opened = self._use()
        opened.shard.optimize()
        opened.shard.flush()
        info = opened.shard.info()
        self._hnsw_check = HnswCheck()  # new graphs: check recall again
        return {"points": info.points_count, "segments": info.segments_count,
                "graph": info.points_count > EXACT_DENSE_MAX_POINTS}

    def reset(self, *, dim: int) -> None:
        self.close()
        shutil.rmtree(self._shard_dir, ignore_errors=True)
        for record in (self._meta_file, self._layout_file):
            record.unlink(missing_ok=True)
        self._requested_dim = dim
        self._hnsw_check = HnswCheck()
        self._create_shard(dim).close()


_abandoned: list[OpenShard] = []  # a forked child's copies of its parent's open shard, never closed nor freed


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _write_json_atomically(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, sort_keys=True))
    os.replace(temporary, path)
