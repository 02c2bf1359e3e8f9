"""Dense embeddings for the shared memory: Ollama's embed API, or a deterministic hashing embedder.

nomic-embed-text expects task prefixes ("search_document: " for stored text, "search_query: "
for questions); OllamaEmbedder adds them so callers pass plain text.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import httpx
import ollama

DOCUMENT_PREFIX = "search_document: "
QUERY_PREFIX = "search_query: "


class EmbeddingUnavailable(Exception):
    """The embedding service cannot produce vectors (unreachable, model missing, wrong size)."""


@runtime_checkable
class Embedder(Protocol):
    model: str
    dim: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class OllamaEmbedder:
    """Embeddings from an Ollama server's POST /api/embed, sent in batches."""

    BATCH_SIZE = 32

    def __init__(self, host: str, model: str = "nomic-embed-text", dim: int = 768, timeout: float = 10) -> None:
        self.host = host
        self.model = model
        self.dim = dim
        self._client = ollama.Client(host=host, timeout=timeout)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.BATCH_SIZE):
            batch = texts[start : start + self.BATCH_SIZE]
            vectors.extend(self._embed([DOCUMENT_PREFIX + text for text in batch]))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._embed([QUERY_PREFIX + text])[0]

    def _embed(self, inputs: list[str]) -> list[list[float]]:
        embeddings = self._request(inputs)
        if len(embeddings) != len(inputs):
            raise EmbeddingUnavailable(
                f"Ollama at {self.host} returned {len(embeddings)} embeddings for {len(inputs)} texts "
                f"with model {self.model!r}"
            )
        for vector in embeddings:
            self._require_dim(vector)
        return [list(vector) for vector in embeddings]

    def _request(self, inputs: list[str]) -> Sequence[Sequence[float]]:
        try:
            return self._client.embed(model=self.model, input=inputs).embeddings
        except ollama.ResponseError as exc:
            raise EmbeddingUnavailable(self._response_error_message(exc)) from exc
        except ConnectionError as exc:
            raise EmbeddingUnavailable(
                f"Ollama is unreachable at {self.host} (embedding model {self.model!r}); "
                "start it with `ollama serve` or fix FACTORY_EMBED_HOST or OLLAMA_HOST"
            ) from exc
        except httpx.HTTPError as exc:
            raise EmbeddingUnavailable(
                f"Ollama at {self.host} did not answer the embedding request for {self.model!r}: {exc!r}"
            ) from exc

    def _response_error_message(self, exc: ollama.ResponseError) -> str:
        if exc.status_code == 404:
            return (
                f"embedding model {self.model!r} is not available on Ollama at {self.host}; "
                f"run `ollama pull {self.model}`"
            )
        return f"Ollama at {self.host} refused to embed with {self.model!r}: {exc.error} (HTTP {exc.status_code})"

    def _require_dim(self, vector: Sequence[float]) -> None:
        if len(vector) != self.dim:
            raise EmbeddingUnavailable(
                f"embedding model {self.model!r} on Ollama at {self.host} returns {len(vector)}-dim vectors, "
                f"but the memory is configured for {self.dim}; set the configured dimension to {len(vector)} "
                "and rebuild the index, or use a model of that dimension"
            )


_WORD = re.compile(r"[a-z0-9]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
TRIGRAM_WEIGHT = 0.5
# Without IDF, function words dominate a hashed bag of words; dropping them lifted dense-only
# recall@5 in bench/memory.py from 0.49 to 0.61.
STOPWORDS = frozenset(
    "a an the of to in on for and or with by is are be was were it its this that as at from not no how what "
    "which why where when do does i my we our should must can into only than then so if".split()
)


class HashingEmbedder:
    """Deterministic embedder with no model: signed feature hashing, L2-normalised.

    Features are the distinct non-stopword words (accents folded, identifiers split on camelCase
    and underscores) plus the character trigrams of each word, so "migrations"/"migrate",
    "Nómina"/"nomina" or "RLSContextManager"/"rls context" share features that BM25's
    whole-token matching does not see.
    """

    def __init__(self, dim: int = 768) -> None:
        if dim < 8:
            raise ValueError(f"HashingEmbedder needs at least 8 dimensions, got {dim}")
        self.dim = dim
        self.model = f"hashing-words-trigrams-{dim}"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for feature, weight in _features(text):
            code = zlib.crc32(feature.encode())
            sign = 1.0 if code & 0x80000000 else -1.0
            vector[code % self.dim] += sign * weight
        norm = math.sqrt(sum(value * value for value in vector))
        return [value / norm for value in vector] if norm else vector


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _WORD.findall(_CAMEL_BOUNDARY.sub(" ", folded).lower())
    return list(dict.fromkeys(word for word in words if word not in STOPWORDS))


def _features(text: str) -> list[tuple[str, float]]:
    features: list[tuple[str, float]] = []
    for word in _words(text):
        features.append(("w:" + word, 1.0))
        padded = f"<{word}>"
        features.extend(("t:" + padded[i : i + 3], TRIGRAM_WEIGHT) for i in range(len(padded) - 2))
    return features
