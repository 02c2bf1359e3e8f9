"""BM25 sparse vectors made locally with Qdrant's tokenizer, stemmer and stop words for a language.

Both index backends use these, so the same text ranks the same way embedded or on a server;
Qdrant applies IDF. Documents and queries must be tokenized in the same language, which is why
each point records the language it was indexed with.
"""
from functools import cache

import qdrant_edge as edge

from lib.languages import BM25_LANGUAGES, DEFAULT_LANGUAGE


@cache
def _model(language: str) -> edge.Bm25:
    if language not in BM25_LANGUAGES:
        raise ValueError(f"memory language {language!r} is not one of: {', '.join(BM25_LANGUAGES)}")
    return edge.Bm25(edge.Bm25Config(language=language))


def document_vector(text: str, language: str = DEFAULT_LANGUAGE) -> edge.SparseVector:
    return _model(language).embed_document(text)


def query_vector(text: str, language: str = DEFAULT_LANGUAGE) -> edge.SparseVector:
    return _model(language).embed_query(text)
