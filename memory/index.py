"""Vector index of the shared memory ("Cipher"): hybrid dense + BM25 retrieval fused with RRF.

Two interchangeable backends share one interface:
- EmbeddedIndex: the Qdrant engine in-process (qdrant-edge-py), one shard folder shared by
  the web server and the worker through an inter-process file lock;
- ServerIndex: a Qdrant server through qdrant-client.

Both compute BM25 sparse vectors locally with qdrant-edge's Bm25 and let Qdrant apply IDF,
so the same text ranks the same way on either backend. PostgreSQL keeps the items; this
index only holds what retrieval needs (vectors + the payload fields used in filters).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import qdrant_edge as edge
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
RRF_K = 60
RESET_COMMAND = "python manage.py memory_reembed --reset"
FILTER_FIELDS = ("project", "kind", "tags")
# Each branch of the hybrid query keeps this many candidates per requested hit before fusion.
PREFETCH_FACTOR = 4
MIN_PREFETCH = 40
# Dense vectors are scored exactly (brute force, ~2 ms per query at 10k points of 768 dim).
# HNSW at default settings lost more than half of the relevant hits on low-similarity queries
# in bench/memory.py, and the memory holds thousands of items, not millions.
EXACT_DENSE = True


class IndexMismatch(Exception):
    """The stored vectors were made by another embedding model or have another dimension."""


class IndexUnavailable(Exception):
    """The index cannot be reached or opened (server down, folder unusable, lock held too long)."""


class PointNotFound(LookupError):
    """An operation named a point id that the index does not hold."""


@dataclass
class IndexPoint:
    id: str
    text: str
    dense: list[float] | None
    payload: dict


@dataclass
class Hit:
    id: str
    score: float
    payload: dict


@runtime_checkable
class VectorIndex(Protocol):
    dim: int

    def upsert(self, points: list[IndexPoint]) -> None: ...

    def delete(self, ids: list[str]) -> None: ...

    def search(
        self,
        *,
        text: str,
        dense: list[float] | None,
        k: int,
        project: str | None = None,
        kind: str | None = None,
        tags: list[str] | None = None,
    ) -> list[Hit]: ...

    def set_dense(self, *, id: str, dense: list[float]) -> None: ...

    def count(self) -> int: ...

    def meta(self) -> dict | None: ...

    def write_meta(self, meta: dict) -> None: ...

    def check_compatible(self, *, embed_model: str, dim: int) -> None: ...

    def reset(self, *, dim: int) -> None: ...

    def session(self) -> AbstractContextManager[None]: ...


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


@cache
def _bm25() -> edge.Bm25:
    return edge.Bm25()


def bm25_document_vector(text: str) -> edge.SparseVector:
    return _bm25().embed_document(text)


def bm25_query_vector(text: str) -> edge.SparseVector:
    return _bm25().embed_query(text)


def _require_uuid(point_id: str) -> None:
    try:
        uuid.UUID(str(point_id))
    except ValueError:
        raise ValueError(f"memory point id {point_id!r} is not a UUID string") from None


def _require_dim(vector: list[float], *, dim: int, point_id: str | None = None) -> None:
    if len(vector) == dim:
        return
    subject = f"dense vector of point {point_id}" if point_id else "query dense vector"
    raise IndexMismatch(
        f"{subject} has {len(vector)} dimensions but the memory index stores {dim}; "
        f"if the embedding model changed, run `{RESET_COMMAND}`"
    )


def _require_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _prefetch_limit(k: int) -> int:
    return max(k * PREFETCH_FACTOR, MIN_PREFETCH)


def _validate_points(points: list[IndexPoint], *, dim: int) -> None:
    for point in points:
        _require_uuid(point.id)
        if point.dense is not None:
            _require_dim(point.dense, dim=dim, point_id=point.id)


def _compatibility_problem(
    *, stored: dict | None, stored_dim: int, dense_count: int, embed_model: str, dim: int
) -> str | None:
    if stored_dim != dim:
        return f"the memory index stores {stored_dim}-dim vectors but the embedder makes {dim}-dim ones"
    if stored is None:
        if dense_count == 0:
            return None
        return f"{dense_count} points of the memory index have dense vectors from an unrecorded embedding model"
    if stored.get("embed_model") != embed_model or stored.get("dim") != dim:
        return (
            f"the memory index was built with {stored.get('embed_model')!r} ({stored.get('dim')} dim) "
            f"but the embedder is {embed_model!r} ({dim} dim)"
        )
    return None


def _check_compatible(index: VectorIndex, *, stored_dim: int, dense_count: int, embed_model: str, dim: int) -> None:
    """Raise IndexMismatch on a model/dimension change; label an index that has no dense vectors yet."""
    stored = index.meta()
    problem = _compatibility_problem(
        stored=stored, stored_dim=stored_dim, dense_count=dense_count, embed_model=embed_model, dim=dim
    )
    if problem:
        raise IndexMismatch(f"{problem}; run `{RESET_COMMAND}` to rebuild it")
    if stored is None:
        index.write_meta({"embed_model": embed_model, "dim": dim})


def _validate_meta(meta: dict) -> None:
    if not isinstance(meta.get("embed_model"), str) or not isinstance(meta.get("dim"), int):
        raise ValueError(f"index meta needs a string 'embed_model' and an int 'dim', got {meta!r}")


# ---------------------------------------------------------------------------------------------
# Embedded engine (qdrant-edge-py)
# ---------------------------------------------------------------------------------------------


def _edge_filter(*, project: str | None, kind: str | None, tags: list[str] | None) -> edge.Filter | None:
    conditions = []
    if project is not None:
        conditions.append(edge.FieldCondition("project", match=edge.MatchValue(project)))
    if kind is not None:
        conditions.append(edge.FieldCondition("kind", match=edge.MatchValue(kind)))
    if tags:
        conditions.append(edge.FieldCondition("tags", match=edge.MatchAny(list(tags))))
    return edge.Filter(must=conditions) if conditions else None


def _edge_config(dim: int) -> edge.EdgeConfig:
    # No WAL: every write is flushed before the lock is released, and the WAL's preallocated
    # segments doubled the cost of each open (measured: ~60 ms -> ~30 ms at 10k points).
    # PostgreSQL keeps the items, so a write lost in a crash is recovered by re-embedding.
    # m=0 skips building an HNSW graph that exact dense scoring would never use.
    return edge.EdgeConfig(
        vectors={DENSE_VECTOR: edge.EdgeVectorParams(size=dim, distance=edge.Distance.Cosine)},
        sparse_vectors={SPARSE_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        hnsw_config=edge.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000) if EXACT_DENSE else None,
        wal_enabled=False,
    )


def _edge_point(point: IndexPoint) -> edge.Point:
    vectors: dict = {SPARSE_VECTOR: bm25_document_vector(point.text)}
    if point.dense is not None:
        vectors[DENSE_VECTOR] = list(point.dense)
    return edge.Point(point.id, vectors, dict(point.payload))


def _edge_hits(scored: list) -> list[Hit]:
    return [Hit(id=str(point.id), score=float(point.score), payload=dict(point.payload or {})) for point in scored]


def _edge_query(
    *, sparse: edge.SparseVector, dense: list[float] | None, k: int, query_filter: edge.Filter | None
) -> edge.QueryRequest | None:
    branches = []  # (query, search params)
    if sparse.indices:
        branches.append((edge.Query.Nearest(sparse, using=SPARSE_VECTOR), None))
    if dense is not None:
        branches.append((edge.Query.Nearest(list(dense), using=DENSE_VECTOR), edge.SearchParams(exact=EXACT_DENSE)))
    if not branches:
        return None
    if len(branches) == 1:
        query, params = branches[0]
        return edge.QueryRequest(limit=k, query=query, params=params, filter=query_filter, with_payload=True)
    prefetches = [
        edge.Prefetch(limit=_prefetch_limit(k), query=query, params=params, filter=query_filter)
        for query, params in branches
    ]
    return edge.QueryRequest(
        limit=k, prefetches=prefetches, query=edge.Fusion.Rrf(k=RRF_K), filter=query_filter, with_payload=True
    )


class EmbeddedIndex:
    """The Qdrant engine in-process: a shard under `path`, opened per operation under a file lock.

    Layout of `path`: shard/ (engine files), index.json (dense dimension), meta.json
    (embedding model record), .lock (inter-process lock). `session()` keeps the shard open
    for a short block of operations in the current thread.
    """

    LOCK_TIMEOUT_SECONDS = 60.0

    def __init__(self, path: Path, dim: int = 768) -> None:
        self.path = Path(path)
        self._requested_dim = dim
        self._local = threading.local()

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

    # -- locking and opening ----------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexUnavailable(f"cannot use memory index folder {self.path}: {exc}") from exc
        try:
            _acquire_lock(lock_fd, path=self.path, timeout=self.LOCK_TIMEOUT_SECONDS)
            yield
        finally:
            os.close(lock_fd)  # closing the descriptor releases the flock

    def _load_or_create(self) -> edge.EdgeShard:
        if not self._shard_dir.exists():
            return self._create_shard(self._requested_dim)
        if not self._layout_file.exists():
            raise IndexUnavailable(
                f"memory index at {self.path} has no index.json (interrupted creation?); run `{RESET_COMMAND}`"
            )
        try:
            return edge.EdgeShard.load(str(self._shard_dir))
        except Exception as exc:
            raise IndexUnavailable(f"cannot open memory index at {self.path}: {exc}; run `{RESET_COMMAND}`") from exc

    def _create_shard(self, dim: int) -> edge.EdgeShard:
        try:
            shard = edge.EdgeShard.create(str(self._shard_dir), _edge_config(dim))
        except Exception as exc:
            raise IndexUnavailable(f"cannot create memory index at {self.path}: {exc}") from exc
        _write_json_atomically(self._layout_file, {"dim": dim})
        return shard

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The inter-process lock, re-entrant within the thread that holds it."""
        if getattr(self._local, "locked", False):
            yield
            return
        with self._locked():
            self._local.locked = True
            try:
                yield
            finally:
                self._local.locked = False

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold the lock and keep the shard open for the operations inside the block."""
        if getattr(self._local, "shard", None) is not None:
            yield
            return
        with self._exclusive():
            shard = self._load_or_create()
            self._local.shard = shard
            try:
                yield
            finally:
                self._local.shard = None
                shard.close()

    @contextmanager
    def _shard(self) -> Iterator[edge.EdgeShard]:
        with self.session():
            yield self._local.shard

    def _write(self, operation: edge.UpdateOperation) -> None:
        with self._shard() as shard:
            shard.update(operation)
            shard.optimize()  # a no-op (~0.1 ms) unless enough points call for indexing/vacuum
            shard.flush()

    # -- VectorIndex ------------------------------------------------------------------------

    def upsert(self, points: list[IndexPoint]) -> None:
        if not points:
            return
        for point in points:
            _require_uuid(point.id)
        operation = edge.UpdateOperation.upsert_points([_edge_point(p) for p in points])  # BM25 outside the lock
        with self.session():
            _validate_points(points, dim=self.dim)
            self._write(operation)

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        for point_id in ids:
            _require_uuid(point_id)
        self._write(edge.UpdateOperation.delete_points(list(ids)))

    def set_dense(self, *, id: str, dense: list[float]) -> None:
        _require_uuid(id)
        with self._shard() as shard:
            _require_dim(dense, dim=self.dim, point_id=id)
            if not shard.retrieve([id], with_payload=False, with_vector=False):
                raise PointNotFound(f"memory point {id} is not in the index")
            self._write(edge.UpdateOperation.update_vectors([edge.PointVectors(id, {DENSE_VECTOR: list(dense)})]))

    def search(
        self,
        *,
        text: str,
        dense: list[float] | None,
        k: int,
        project: str | None = None,
        kind: str | None = None,
        tags: list[str] | None = None,
    ) -> list[Hit]:
        _require_k(k)
        sparse = bm25_query_vector(text)
        query_filter = _edge_filter(project=project, kind=kind, tags=tags)
        with self._shard() as shard:
            if dense is not None:
                _require_dim(dense, dim=self.dim)
            request = _edge_query(sparse=sparse, dense=dense, k=k, query_filter=query_filter)
            return _edge_hits(shard.query(request)) if request else []

    def count(self) -> int:
        with self._shard() as shard:
            return shard.count(edge.CountRequest(exact=True))

    def meta(self) -> dict | None:
        return _read_json(self._meta_file)  # replaced atomically, so readable without the lock

    def write_meta(self, meta: dict) -> None:
        _validate_meta(meta)
        with self._exclusive():
            _write_json_atomically(self._meta_file, dict(meta))

    def check_compatible(self, *, embed_model: str, dim: int) -> None:
        with self._shard() as shard:
            with_dense = edge.Filter(must=[edge.HasVectorCondition(DENSE_VECTOR)])
            dense_count = shard.count(edge.CountRequest(filter=with_dense, exact=True))
            _check_compatible(self, stored_dim=self.dim, dense_count=dense_count, embed_model=embed_model, dim=dim)

    def reset(self, *, dim: int) -> None:
        if getattr(self._local, "locked", False):
            raise RuntimeError("reset() cannot run inside a session of the same index")
        with self._exclusive():
            shutil.rmtree(self._shard_dir, ignore_errors=True)
            self._meta_file.unlink(missing_ok=True)
            self._layout_file.unlink(missing_ok=True)
            self._requested_dim = dim
            self._create_shard(dim).close()


def _acquire_lock(lock_fd: int, *, path: Path, timeout: float) -> None:
    """Take the exclusive flock, polling so that a stuck holder turns into a clear error."""
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise IndexUnavailable(
                    f"memory index at {path} stayed locked by another process for {timeout:.0f} s"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.005)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _write_json_atomically(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, sort_keys=True))
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------------------
# Qdrant server (qdrant-client)
# ---------------------------------------------------------------------------------------------


def _server_filter(*, project: str | None, kind: str | None, tags: list[str] | None) -> models.Filter | None:
    conditions: list[models.Condition] = []
    if project is not None:
        conditions.append(models.FieldCondition(key="project", match=models.MatchValue(value=project)))
    if kind is not None:
        conditions.append(models.FieldCondition(key="kind", match=models.MatchValue(value=kind)))
    if tags:
        conditions.append(models.FieldCondition(key="tags", match=models.MatchAny(any=list(tags))))
    return models.Filter(must=conditions) if conditions else None


def _server_sparse(sparse: edge.SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(sparse.indices), values=list(sparse.values))


def _server_point(point: IndexPoint) -> models.PointStruct:
    vectors: dict = {SPARSE_VECTOR: _server_sparse(bm25_document_vector(point.text))}
    if point.dense is not None:
        vectors[DENSE_VECTOR] = list(point.dense)
    return models.PointStruct(id=point.id, vector=vectors, payload=dict(point.payload))


def _server_branches(*, sparse: edge.SparseVector, dense: list[float] | None) -> list[tuple[object, str]]:
    branches: list[tuple[object, str]] = []
    if sparse.indices:
        branches.append((_server_sparse(sparse), SPARSE_VECTOR))
    if dense is not None:
        branches.append((list(dense), DENSE_VECTOR))
    return branches


class ServerIndex:
    """qdrant-client against a Qdrant server (or QdrantClient(":memory:") in tests).

    The embedding-model record lives in the collection's metadata under "memory_meta".
    """

    META_KEY = "memory_meta"

    def __init__(self, client: QdrantClient, collection: str = "factory_memory", dim: int = 768) -> None:
        self.client = client
        self.collection = collection
        self._requested_dim = dim
        self._dim: int | None = None

    @property
    def _location(self) -> str:
        options = self.client.init_options
        return options.get("url") or options.get("location") or options.get("host") or "the configured address"

    @property
    def _is_local(self) -> bool:
        """qdrant-client's in-process mode (":memory:" or a path), which always searches exactly."""
        options = self.client.init_options
        return options.get("location") == ":memory:" or options.get("path") is not None

    def _search_params(self, using: str) -> models.SearchParams | None:
        if using != DENSE_VECTOR or self._is_local:
            return None
        return models.SearchParams(exact=EXACT_DENSE)

    @contextmanager
    def _server_errors(self) -> Iterator[None]:
        try:
            yield
        except UnexpectedResponse as exc:
            detail = exc.content.decode(errors="replace")[:300]
            raise IndexUnavailable(
                f"Qdrant server at {self._location} rejected a request on collection {self.collection!r}: "
                f"HTTP {exc.status_code} {detail}"
            ) from exc
        except ApiException as exc:
            raise IndexUnavailable(
                f"Qdrant server at {self._location} is unreachable ({exc}); start it, "
                "or leave QDRANT_URL empty to use the embedded index"
            ) from exc

    def _ensure_collection(self) -> None:
        if self._dim is not None:
            return
        with self._server_errors():
            if not self.client.collection_exists(self.collection):
                self._create_collection(self._requested_dim)
            vectors = self.client.get_collection(self.collection).config.params.vectors
        self._dim = vectors[DENSE_VECTOR].size

    def _create_collection(self, dim: int) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE_VECTOR: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self._is_local:
            return  # qdrant-client's local mode has no payload indexes (it warns and ignores them)
        for field in FILTER_FIELDS:
            self.client.create_payload_index(self.collection, field, models.PayloadSchemaType.KEYWORD)

    @property
    def dim(self) -> int:
        """Dense dimension of the collection (read once per instance; reset() refreshes it)."""
        self._ensure_collection()
        return self._dim

    @contextmanager
    def session(self) -> Iterator[None]:
        """A server holds no per-operation cost to amortise; present for interface parity."""
        yield

    def upsert(self, points: list[IndexPoint]) -> None:
        if not points:
            return
        _validate_points(points, dim=self.dim)
        with self._server_errors():
            self.client.upsert(self.collection, points=[_server_point(p) for p in points], wait=True)

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        for point_id in ids:
            _require_uuid(point_id)
        self._ensure_collection()
        with self._server_errors():
            self.client.delete(self.collection, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def set_dense(self, *, id: str, dense: list[float]) -> None:
        _require_uuid(id)
        _require_dim(dense, dim=self.dim, point_id=id)
        with self._server_errors():
            if not self.client.retrieve(self.collection, ids=[id], with_payload=False, with_vectors=False):
                raise PointNotFound(f"memory point {id} is not in the index")
            self.client.update_vectors(
                self.collection, points=[models.PointVectors(id=id, vector={DENSE_VECTOR: list(dense)})], wait=True
            )

    def search(
        self,
        *,
        text: str,
        dense: list[float] | None,
        k: int,
        project: str | None = None,
        kind: str | None = None,
        tags: list[str] | None = None,
    ) -> list[Hit]:
        _require_k(k)
        if dense is not None:
            _require_dim(dense, dim=self.dim)
        self._ensure_collection()
        branches = _server_branches(sparse=bm25_query_vector(text), dense=dense)
        if not branches:
            return []
        query_filter = _server_filter(project=project, kind=kind, tags=tags)
        with self._server_errors():
            response = self._query(branches=branches, k=k, query_filter=query_filter)
        return [Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in response.points]

    def _query(self, *, branches: list[tuple[object, str]], k: int, query_filter: models.Filter | None):
        if len(branches) == 1:
            vector, using = branches[0]
            return self.client.query_points(
                self.collection,
                query=vector,
                using=using,
                search_params=self._search_params(using),
                query_filter=query_filter,
                limit=k,
                with_payload=True,
            )
        prefetch = [
            models.Prefetch(
                query=vector, using=using, params=self._search_params(using), filter=query_filter,
                limit=_prefetch_limit(k),
            )
            for vector, using in branches
        ]
        return self.client.query_points(
            self.collection,
            prefetch=prefetch,
            query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
            query_filter=query_filter,
            limit=k,
            with_payload=True,
        )

    def count(self) -> int:
        self._ensure_collection()
        with self._server_errors():
            return self.client.count(self.collection, exact=True).count

    def meta(self) -> dict | None:
        self._ensure_collection()
        with self._server_errors():
            metadata = self.client.get_collection(self.collection).config.metadata or {}
        stored = metadata.get(self.META_KEY)
        return dict(stored) if stored else None

    def write_meta(self, meta: dict) -> None:
        _validate_meta(meta)
        self._ensure_collection()
        with self._server_errors():
            self.client.update_collection(self.collection, metadata={self.META_KEY: dict(meta)})

    def check_compatible(self, *, embed_model: str, dim: int) -> None:
        with_dense = models.Filter(must=[models.HasVectorCondition(has_vector=DENSE_VECTOR)])
        stored_dim = self.dim
        with self._server_errors():
            dense_count = self.client.count(self.collection, count_filter=with_dense, exact=True).count
        _check_compatible(self, stored_dim=stored_dim, dense_count=dense_count, embed_model=embed_model, dim=dim)

    def reset(self, *, dim: int) -> None:
        with self._server_errors():
            if self.client.collection_exists(self.collection):
                self.client.delete_collection(self.collection)
            self._create_collection(dim)
        self._requested_dim = dim
        self._dim = dim


# ---------------------------------------------------------------------------------------------


def open_index(*, qdrant_url: str, data_dir: Path, dim: int = 768) -> VectorIndex:
    """The configured backend: a Qdrant server when qdrant_url is set, else the embedded engine.

    The embedded shard lives in `data_dir / "memory"` (data_dir is FACTORY_DATA_DIR).
    """
    if qdrant_url.strip():
        client = QdrantClient(url=qdrant_url.strip(), timeout=10, check_compatibility=False)
        return ServerIndex(client, dim=dim)
    return EmbeddedIndex(Path(data_dir) / "memory", dim=dim)
