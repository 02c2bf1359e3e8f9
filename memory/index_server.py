"""The memory index on a Qdrant server, through qdrant-client (QDRANT_URL set; docker-compose runs one).

A server has no open cost to amortise and serves any number of processes; dense vectors are
scored exactly there (a server's own HNSW settings are the operator's to tune).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeAlias

import qdrant_edge as edge
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

from lib.languages import DEFAULT_LANGUAGE
from memory import bm25
from memory.index_base import (
    DENSE_VECTOR,
    FILTER_FIELDS,
    LANGUAGE_FIELD,
    RESET_COMMAND,
    RRF_K,
    SPARSE_VECTOR,
    Hit,
    IndexMismatch,
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

EXACT_DENSE = True

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
    vectors: dict = {SPARSE_VECTOR: _server_sparse(bm25.document_vector(point.text, point.language))}
    if point.dense is not None:
        vectors[DENSE_VECTOR] = list(point.dense)
    return models.PointStruct(id=point.id, vector=vectors, payload=stored_payload(point))


# A query branch's vector: the sparse BM25 vector or the dense embedding.
ServerVector: TypeAlias = "models.SparseVector | list[float]"


def _server_branches(*, sparse: edge.SparseVector, dense: list[float] | None) -> list[tuple[ServerVector, str]]:
    branches: list[tuple[ServerVector, str]] = []
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

    def _ensure_collection(self) -> int:
        """The collection's dense dimension, creating the collection first if there is none."""
        if self._dim is not None:
            return self._dim
        with self._server_errors():
            if not self.client.collection_exists(self.collection):
                self._create_collection(self._requested_dim)
            vectors = self.client.get_collection(self.collection).config.params.vectors
        if not isinstance(vectors, dict) or DENSE_VECTOR not in vectors:
            raise IndexMismatch(f"the collection {self.collection!r} has no named {DENSE_VECTOR!r} vector; "
                                f"run `{RESET_COMMAND}` to rebuild it")
        self._dim = vectors[DENSE_VECTOR].size
        return self._dim

    def _create_collection(self, dim: int) -> None:
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE_VECTOR: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if self._is_local:
            return  # qdrant-client's local mode has no payload indexes (it warns and ignores them)
        for field in (*FILTER_FIELDS, LANGUAGE_FIELD):
            self.client.create_payload_index(self.collection, field, models.PayloadSchemaType.KEYWORD)

    @property
    def dim(self) -> int:
        """Dense dimension of the collection (read once per instance; reset() refreshes it)."""
        return self._ensure_collection()

    @contextmanager
    def session(self) -> Iterator[None]:
        """A server holds no per-operation cost to amortise; present for interface parity."""
        yield

    def upsert(self, points: list[IndexPoint]) -> None:
        if not points:
            return
        validate_points(points, dim=self.dim)
        with self._server_errors():
            self.client.upsert(self.collection, points=[_server_point(p) for p in points], wait=True)

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        for point_id in ids:
            require_uuid(point_id)
        self._ensure_collection()
        with self._server_errors():
            self.client.delete(self.collection, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def set_dense(self, *, id: str, dense: list[float]) -> None:
        require_uuid(id)
        require_dim(dense, dim=self.dim, point_id=id)
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
        language: str = DEFAULT_LANGUAGE,
    ) -> list[Hit]:
        require_k(k)
        if dense is not None:
            require_dim(dense, dim=self.dim)
        self._ensure_collection()
        branches = _server_branches(sparse=bm25.query_vector(text, language), dense=dense)
        if not branches:
            return []
        query_filter = _server_filter(project=project, kind=kind, tags=tags)
        with self._server_errors():
            response = self._query(branches=branches, k=k, query_filter=query_filter)
        return [Hit(id=str(p.id), score=float(p.score), payload=visible_payload(p.payload)) for p in response.points]

    def _query(self, *, branches: list[tuple[ServerVector, str]], k: int, query_filter: models.Filter | None
               ) -> models.QueryResponse:
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
                limit=prefetch_limit(k),
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

    def language_mismatches(self, *, language: str, project: str | None) -> int:
        self._ensure_collection()
        scope = models.FieldCondition(key="project", match=models.MatchValue(value=project)) if project is not None \
            else models.IsNullCondition(is_null=models.PayloadField(key="project"))
        same: list[models.Condition] = [
            models.FieldCondition(key=LANGUAGE_FIELD, match=models.MatchValue(value=language))]
        if language == DEFAULT_LANGUAGE:
            same.append(models.IsEmptyCondition(is_empty=models.PayloadField(key=LANGUAGE_FIELD)))
        with self._server_errors():
            return self.client.count(self.collection, count_filter=models.Filter(must=[scope], must_not=same),
                                     exact=True).count

    def meta(self) -> dict | None:
        self._ensure_collection()
        with self._server_errors():
            metadata = self.client.get_collection(self.collection).config.metadata or {}
        stored = metadata.get(self.META_KEY)
        return dict(stored) if stored else None

    def meta_version(self) -> object:
        return None  # read from the server each time; callers cache per process until the settings change

    def write_meta(self, meta: dict) -> None:
        validate_meta(meta)
        self._ensure_collection()
        with self._server_errors():
            self.client.update_collection(self.collection, metadata={self.META_KEY: dict(meta)})

    def check_compatible(self, *, embed_model: str, dim: int) -> None:
        with_dense = models.Filter(must=[models.HasVectorCondition(has_vector=DENSE_VECTOR)])
        stored_dim = self.dim
        with self._server_errors():
            dense_count = self.client.count(self.collection, count_filter=with_dense, exact=True).count
        check_compatible(self, stored_dim=stored_dim, dense_count=dense_count, embed_model=embed_model, dim=dim)

    def reset(self, *, dim: int) -> None:
        with self._server_errors():
            if self.client.collection_exists(self.collection):
                self.client.delete_collection(self.collection)
            self._create_collection(dim)
        self._requested_dim = dim
        self._dim = dim


# ---------------------------------------------------------------------------------------------

    def optimize(self) -> dict:
        """A server optimizes in the background by itself; dense vectors are scored exactly here."""
        return {"points": self.count(), "graph": False}

    def close(self) -> None:
        self.client.close()
