"""What both memory index backends share: the interface, the records, the errors and the checks."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lib.languages import DEFAULT_LANGUAGE

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
RRF_K = 60
RESET_COMMAND = "python manage.py memory_reembed --reset"
# Payload fields with a keyword index: the search filters, and the BM25 language of each point.
FILTER_FIELDS = ("project", "kind", "tags")
LANGUAGE_FIELD = "language"
# Each branch of the hybrid query keeps this many candidates per requested hit before fusion.
PREFETCH_FACTOR = 4
MIN_PREFETCH = 40
# Dense vectors are scored exactly (brute force) while the index holds at most this many points:
# ~4 ms per query at 20,000 768-dim points on two cores. Above it, `optimize()` builds an HNSW
# graph for the segments that big and checks its recall against exact scoring; searches use the
# graph only if that check passed (see EmbeddedIndex.optimize and docs/memory.md).
EXACT_DENSE_MAX_POINTS = 20_000
HNSW_MIN_RECALL = 0.95


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
    language: str = DEFAULT_LANGUAGE  # BM25 stemmer and stop words the text is indexed with


@dataclass
class Hit:
    id: str
    score: float
    payload: dict


@runtime_checkable
class VectorIndex(Protocol):
    @property
    def dim(self) -> int: ...

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
        language: str = DEFAULT_LANGUAGE,
    ) -> list[Hit]: ...

    def set_dense(self, *, id: str, dense: list[float]) -> None: ...

    def count(self) -> int: ...

    def language_mismatches(self, *, language: str, project: str | None) -> int: ...

    def meta(self) -> dict | None: ...

    def meta_version(self) -> object: ...

    def write_meta(self, meta: dict) -> None: ...

    def check_compatible(self, *, embed_model: str, dim: int) -> None: ...

    def reset(self, *, dim: int) -> None: ...

    def optimize(self) -> dict: ...

    def session(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


def require_uuid(point_id: str) -> None:
    try:
        uuid.UUID(str(point_id))
    except ValueError:
        raise ValueError(f"memory point id {point_id!r} is not a UUID string") from None


def require_dim(vector: list[float], *, dim: int, point_id: str | None = None) -> None:
    if len(vector) == dim:
        return
    subject = f"dense vector of point {point_id}" if point_id else "query dense vector"
    raise IndexMismatch(
        f"{subject} has {len(vector)} dimensions but the memory index stores {dim}; "
        f"if the embedding model changed, run `{RESET_COMMAND}`"
    )


def require_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def prefetch_limit(k: int) -> int:
    return max(k * PREFETCH_FACTOR, MIN_PREFETCH)


def validate_points(points: list[IndexPoint], *, dim: int) -> None:
    for point in points:
        require_uuid(point.id)
        if point.dense is not None:
            require_dim(point.dense, dim=dim, point_id=point.id)


def stored_payload(point: IndexPoint) -> dict:
    return {**point.payload, LANGUAGE_FIELD: point.language}


def visible_payload(payload: dict | None) -> dict:
    """A hit's payload as callers stored it (the language is the index's own bookkeeping)."""
    return {key: value for key, value in (payload or {}).items() if key != LANGUAGE_FIELD}


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


class MetaRecord(Protocol):
    """Where an index keeps the record of its embedding model."""

    def meta(self) -> dict | None: ...

    def write_meta(self, meta: dict) -> None: ...


def check_compatible(index: MetaRecord, *, stored_dim: int, dense_count: int, embed_model: str, dim: int) -> None:
    """Raise IndexMismatch on a model/dimension change; label an index that has no dense vectors yet."""
    stored = index.meta()
    problem = _compatibility_problem(
        stored=stored, stored_dim=stored_dim, dense_count=dense_count, embed_model=embed_model, dim=dim
    )
    if problem:
        raise IndexMismatch(f"{problem}; run `{RESET_COMMAND}` to rebuild it")
    if stored is None:
        index.write_meta({"embed_model": embed_model, "dim": dim})


def validate_meta(meta: dict) -> None:
    if not isinstance(meta.get("embed_model"), str) or not isinstance(meta.get("dim"), int):
        raise ValueError(f"index meta needs a string 'embed_model' and an int 'dim', got {meta!r}")
