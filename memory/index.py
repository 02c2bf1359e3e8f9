"""Vector index of the shared memory ("Cipher"): hybrid dense + BM25 retrieval fused with RRF.

Two interchangeable backends share one interface (memory/index_base.py):
- EmbeddedIndex (memory/index_embedded.py): the Qdrant engine in-process (qdrant-edge-py), one
  shard folder owned by the first process that needs it, which runs the operations of the web
  server, the workers and commands over a Unix socket (memory/owner.py explains the protocol);
- ServerIndex (memory/index_server.py): a Qdrant server through qdrant-client.

Both compute BM25 sparse vectors locally (memory/bm25.py, Qdrant's tokenizer with the stemmer and
stop words of each point's language) and let Qdrant apply IDF, so the same text ranks the same way
on either backend. PostgreSQL keeps the items; the index only holds what retrieval needs (vectors
and the payload fields used in filters).
"""

from __future__ import annotations

from pathlib import Path

from qdrant_client import QdrantClient

from memory.index_base import (  # noqa: F401 (the memory package's index API lives here)
    DENSE_VECTOR,
    EXACT_DENSE_MAX_POINTS,
    FILTER_FIELDS,
    RESET_COMMAND,
    SPARSE_VECTOR,
    Hit,
    IndexMismatch,
    IndexPoint,
    IndexUnavailable,
    PointNotFound,
    VectorIndex,
)
from memory.index_embedded import EmbeddedIndex
from memory.index_server import ServerIndex

__all__ = [
    "DENSE_VECTOR", "EXACT_DENSE_MAX_POINTS", "FILTER_FIELDS", "RESET_COMMAND", "SPARSE_VECTOR", "EmbeddedIndex",
    "Hit", "IndexMismatch", "IndexPoint", "IndexUnavailable", "PointNotFound", "ServerIndex", "VectorIndex",
    "open_index",
]


def open_index(*, qdrant_url: str, data_dir: Path, dim: int = 768) -> VectorIndex:
    """The configured backend: a Qdrant server when qdrant_url is set, else the embedded engine.

    The embedded shard lives in `data_dir / "memory"` (data_dir is FACTORY_DATA_DIR).
    """
    if qdrant_url.strip():
        client = QdrantClient(url=qdrant_url.strip(), timeout=10, check_compatibility=False)
        return ServerIndex(client, dim=dim)
    return EmbeddedIndex(Path(data_dir) / "memory", dim=dim)
