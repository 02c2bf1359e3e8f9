"""The memory index on the embedded Qdrant engine, shared by every process through the one that owns it.

The web server, both django-q2 clusters' workers and management commands use the one shard under
FACTORY_DATA_DIR/memory. The engine cannot have it open in two processes, and opening it costs far
more than a search, so the first process that needs it owns it for the rest of its life and runs
every other process's operations for it (memory/owner.py: election, socket, crash take-over;
memory/wire.py: the frames; memory/shard.py: the engine itself). In the owner an operation costs
the engine's milliseconds; elsewhere it adds one round trip on a Unix socket (a fraction of a
millisecond), and nobody opens the shard again while its owner lives.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from lib.languages import DEFAULT_LANGUAGE
from memory.index_base import Hit, IndexPoint, require_k, require_uuid, validate_meta
from memory.owner import Ownership
from memory.shard import Shard


class EmbeddedIndex:
    """VectorIndex on a shard folder: run here when this process owns it, else by its owner (module doc)."""

    # Longest wait for the owner's answer (an optimize of a big index takes a while); then IndexUnavailable.
    LOCK_TIMEOUT_SECONDS = 60.0
    # optimize() and reset() run in the owner however long they take (109 s at 50,000 items): a command that
    # asked for one waits for its end rather than give up while the owner goes on.
    SLOW_TIMEOUT_SECONDS = 3600.0

    def __init__(self, path: Path, dim: int = 768) -> None:
        self.path = Path(path)
        self._shard = Shard(self.path, dim, changed=self._changed)
        self._ownership = Ownership(self.path, run=self._run, close=self._shard.close, tidy=self._shard.flush,
                                    abandon=self._shard.abandon, timeout=lambda: self.LOCK_TIMEOUT_SECONDS)
        self._sessions = threading.local()

    def _run(self, op: str, args: dict) -> object:
        operation = self._shard.operations.get(op)
        if operation is None:
            raise ValueError(f"the memory index has no operation {op!r}")
        return operation(**args)

    def _changed(self) -> None:
        self._ownership.mark_changed()

    def _call(self, op: str, **args: object) -> object:
        return self._ownership.call(op, args)

    def _call_slow(self, op: str, **args: object) -> object:
        return self._ownership.call(op, args, timeout=self.SLOW_TIMEOUT_SECONDS)

    @property
    def dim(self) -> int:
        return self._shard.dim

    @property
    def owner(self) -> bool:
        """Whether this process owns the shard (runs the operations of every process)."""
        return self._ownership.owned

    @property
    def taken_over(self) -> int:
        """How many times this process became the shard's owner (opened it)."""
        return self._ownership.taken_over

    @contextmanager
    def session(self) -> Iterator[None]:
        """A block of this thread's operations that no other caller's operation interleaves in the owner."""
        self._sessions.depth = getattr(self._sessions, "depth", 0) + 1
        try:
            with self._ownership.session():
                yield
        finally:
            self._sessions.depth -= 1

    def claim(self) -> bool:
        """Own the shard, asking its present owner to give it up (FACTORY_MEMORY_OWNER: the web server's first
        search); False when the owner did not give it up within LOCK_TIMEOUT_SECONDS."""
        return self._ownership.claim()

    def close(self) -> None:
        """Close the shard and stop owning it now (when this process owns it), and drop the connections."""
        self._ownership.release()

    # -- VectorIndex ------------------------------------------------------------------------

    def upsert(self, points: list[IndexPoint]) -> None:
        if not points:
            return
        for point in points:
            require_uuid(point.id)
        self._call("upsert", points=points)

    def delete(self, ids: list[str]) -> None:
        if not ids:
            return
        for point_id in ids:
            require_uuid(point_id)
        self._call("delete", ids=list(ids))

    def set_dense(self, *, id: str, dense: list[float]) -> None:
        require_uuid(id)
        self._call("set_dense", id=id, dense=dense)

    def search(self, *, text: str, dense: list[float] | None, k: int, project: str | None = None,
               kind: str | None = None, tags: list[str] | None = None, language: str = DEFAULT_LANGUAGE,
               ) -> list[Hit]:
        require_k(k)
        return cast(list[Hit], self._call("search", text=text, dense=dense, k=k, project=project, kind=kind,
                                          tags=tags, language=language))

    def dense_search(self) -> dict:
        """How the owner scores dense vectors now: exact, or HNSW after its recall check (shard.HnswCheck)."""
        return cast(dict, self._call("dense_search"))

    def count(self) -> int:
        return cast(int, self._call("count"))

    def language_mismatches(self, *, language: str, project: str | None) -> int:
        return cast(int, self._call("language_mismatches", language=language, project=project))

    def meta(self) -> dict | None:
        return self._shard.meta()  # a file replaced atomically: any process reads it

    def meta_version(self) -> object:
        return self._shard.meta_version()

    def write_meta(self, meta: dict) -> None:
        validate_meta(meta)
        self._call("write_meta", meta=dict(meta))

    def check_compatible(self, *, embed_model: str, dim: int) -> None:
        self._call("check_compatible", embed_model=embed_model, dim=dim)

    def optimize(self) -> dict:
        """Compact the segments, building HNSW graphs for those over the exact size (slow on big indexes)."""
        return cast(dict, self._call_slow("optimize"))

    def reset(self, *, dim: int) -> None:
        if getattr(self._sessions, "depth", 0):
            raise RuntimeError("reset() cannot run inside a session of the same index")
        self._call_slow("reset", dim=dim)
