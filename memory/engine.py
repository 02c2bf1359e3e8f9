"""The configured vector index and embedder, built from settings."""
import time

from django.conf import settings

from memory.embeddings import OllamaEmbedder
from memory.index import VectorIndex, open_index

_indexes: dict[tuple, VectorIndex] = {}


def index() -> VectorIndex:
    # Keyed by the settings so tests (and a changed FACTORY_DATA_DIR) get their own index.
    key = (settings.QDRANT_URL, str(settings.FACTORY_DATA_DIR), settings.FACTORY_EMBED_DIM)
    if key not in _indexes:
        _indexes[key] = open_index(qdrant_url=settings.QDRANT_URL, data_dir=settings.FACTORY_DATA_DIR,
                                   dim=settings.FACTORY_EMBED_DIM)
    return _indexes[key]


def embedder() -> OllamaEmbedder:
    return OllamaEmbedder(settings.OLLAMA_HOST, model=settings.FACTORY_EMBED_MODEL, dim=settings.FACTORY_EMBED_DIM,
                          timeout=settings.FACTORY_EMBED_TIMEOUT)


_compatible_until: dict[tuple, float] = {}
RECHECK_S = 60.0


def check_compatible() -> None:
    """Raise IndexMismatch when the index was built with another embedding model or dimension.

    A passed check is trusted for a minute: opening the embedded shard to count
    vectors on every search would cost more than the search itself.
    """
    key = (settings.QDRANT_URL, str(settings.FACTORY_DATA_DIR), settings.FACTORY_EMBED_MODEL,
           settings.FACTORY_EMBED_DIM)
    if _compatible_until.get(key, 0.0) > time.monotonic():
        return
    index().check_compatible(embed_model=settings.FACTORY_EMBED_MODEL, dim=settings.FACTORY_EMBED_DIM)
    _compatible_until[key] = time.monotonic() + RECHECK_S


def forget_compatibility() -> None:
    _compatible_until.clear()
