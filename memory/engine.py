"""The configured vector index and embedder, built once per process from the settings.

Everything here is kept for the life of the process and rebuilt only when the settings it was
built from change (tests change them; a real process does not): the index keeps its shard open,
or its connections to the process that owns it (memory/owner.py), the embedder keeps its HTTP
client (a new one costs a TLS context, ~45 ms), and a passed compatibility check stays passed until the index's record of its embedding model
changes. After fork() the child builds its own embedder and thread pool rather than share the
parent's sockets and threads (which the child does not have).
"""
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings

from memory.embeddings import OllamaEmbedder
from memory.index import EmbeddedIndex, VectorIndex, open_index

log = logging.getLogger(__name__)

_indexes: dict[tuple, VectorIndex] = {}
_embedders: dict[tuple, OllamaEmbedder] = {}
_compatible: set[tuple] = set()
_language_checked: set[tuple] = set()
_building = threading.Lock()
_embedding_pools: list[ThreadPoolExecutor] = []
# One query embedding per web thread at most (gunicorn's default is 4 threads per process).
EMBEDDING_POOL_THREADS = 4


def _index_key() -> tuple:
    return settings.QDRANT_URL, str(settings.FACTORY_DATA_DIR), settings.FACTORY_EMBED_DIM


def index() -> VectorIndex:
    key = _index_key()
    found = _indexes.get(key)
    if found is not None:
        return found
    with _building:
        if key not in _indexes:
            for stale in _indexes.values():
                close_stale(stale)
            _indexes.clear()
            _indexes[key] = opened = open_index(qdrant_url=settings.QDRANT_URL, data_dir=settings.FACTORY_DATA_DIR,
                                                dim=settings.FACTORY_EMBED_DIM)
            if settings.FACTORY_MEMORY_OWNER and isinstance(opened, EmbeddedIndex) and not opened.claim():
                log.warning("the memory index's owner did not give it up: this process calls it instead")
        return _indexes[key]


def close_stale(stale: VectorIndex) -> None:
    """Settings changed (tests): hand the old shard over instead of keeping it open. Its folder may be gone (a
    test's temporary disk): what it could not flush belonged to that folder, and the new index must still open."""
    try:
        stale.close()
    except Exception:
        log.warning("the previous memory index could not be closed cleanly", exc_info=True)


def embed_host() -> str:
    """FACTORY_EMBED_HOST, else the first model host: the embedding model may live on its own machine."""
    return settings.FACTORY_EMBED_HOST or (tuple(settings.FACTORY_OLLAMA_HOSTS) or (settings.OLLAMA_HOST,))[0]


def embedder() -> OllamaEmbedder:
    key = (embed_host(), settings.FACTORY_EMBED_MODEL, settings.FACTORY_EMBED_DIM,
           settings.FACTORY_EMBED_TIMEOUT)
    found = _embedders.get(key)
    if found is None:
        found = _embedders[key] = OllamaEmbedder(key[0], model=settings.FACTORY_EMBED_MODEL,
                                                 dim=settings.FACTORY_EMBED_DIM,
                                                 timeout=settings.FACTORY_EMBED_TIMEOUT)
    return found


def query_embedding(text: str) -> Future[list[float]]:
    """The query's vector, asked of the embedder on a pool thread: the caller's own reads (a project's
    language from PostgreSQL) overlap the HTTP round trip instead of waiting behind it. The future
    raises what embed_query raises."""
    return _embedding_pool().submit(embedder().embed_query, text)


def _embedding_pool() -> ThreadPoolExecutor:
    if _embedding_pools:
        return _embedding_pools[0]
    with _building:
        if not _embedding_pools:
            _embedding_pools.append(ThreadPoolExecutor(EMBEDDING_POOL_THREADS, thread_name_prefix="query-embedding"))
        return _embedding_pools[0]


def check_compatible() -> None:
    """Raise IndexMismatch when the index was built with another embedding model or dimension.

    Checked once per settings and index record: counting dense vectors on every search would cost
    more than the search. The record (meta) changes on a reset or a relabel, which re-checks.
    """
    current = index()
    key = (*_index_key(), settings.FACTORY_EMBED_MODEL, current.meta_version())
    if key in _compatible:
        return
    current.check_compatible(embed_model=settings.FACTORY_EMBED_MODEL, dim=settings.FACTORY_EMBED_DIM)
    _compatible.add((*_index_key(), settings.FACTORY_EMBED_MODEL, current.meta_version()))


def language_problem(*, language: str, project: str | None) -> str | None:
    """Why keyword search in this scope may miss (items indexed in another language), or None."""
    current = index()
    key = (*_index_key(), language, project, current.meta_version())
    if key in _language_checked:
        return None
    others = current.language_mismatches(language=language, project=project)
    if others:
        scope = f"project {project!r}" if project is not None else "items without a project"
        return (f"{others} memory items of {scope} were indexed for keyword search in another language than "
                f"{language!r}; run `python manage.py memory_reembed --reset` to index them again")
    _language_checked.add(key)
    return None


def forget_compatibility() -> None:
    _compatible.clear()
    _language_checked.clear()


def _forget_clients_after_fork() -> None:
    global _building
    _embedders.clear()  # the parent's HTTP connections stay the parent's
    _embedding_pools.clear()  # its threads did not come along: a submit to that pool would wait forever
    _building = threading.Lock()  # a parent's thread may have held it at the fork, and never releases it here


os.register_at_fork(after_in_child=_forget_clients_after_fork)
