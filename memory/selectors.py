"""Reads of the shared memory: hybrid search over the index, item lists from PostgreSQL."""
import functools
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

import django_filters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from lib.sqlnames import column
from memory import engine
from memory.embeddings import EmbeddingUnavailable
from memory.index import Hit, IndexMismatch
from memory.models import Kind, MemoryItem
from tickets.models import Project
from tickets.selectors import StrictBooleanFilter


class MemoryItemFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__name")
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    source = django_filters.CharFilter()
    tag = django_filters.CharFilter(field_name="tags", lookup_expr="contains", method="has_tag")
    needs_embedding = StrictBooleanFilter()

    class Meta:
        model = MemoryItem
        fields = ["project", "kind", "source", "needs_embedding"]

    def has_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(tags__contains=[value])


@dataclass
class SearchResult:
    items: list[tuple[MemoryItem, float]]
    mode: str  # "hybrid" or "bm25"
    warnings: list[str] = field(default_factory=list)


def item_list() -> QuerySet[MemoryItem]:
    return MemoryItem.objects.select_related("project", "ticket")


def project_language(project: Project | None) -> str:
    """The BM25 language of a project's items: its own `memory_language` when set, else FACTORY_MEMORY_LANGUAGE."""
    return (project.memory_language if project is not None else "") or settings.FACTORY_MEMORY_LANGUAGE


def project_language_by_name(name: str | None) -> str:
    if name is None:
        return settings.FACTORY_MEMORY_LANGUAGE
    own = Project.objects.filter(name=name).values_list("memory_language", flat=True).first()
    return own or settings.FACTORY_MEMORY_LANGUAGE


@dataclass
class IndexAnswer:
    hits: list[Hit]
    mode: str  # "hybrid" or "bm25"
    warnings: list[str]


def search(*, query: str, k: int = 5, project: str | None = None, kind: str | None = None,
           tags: list[str] | None = None, language: str | None = None) -> SearchResult:
    """Best first. Dense + BM25 fused with RRF; BM25 alone when the embedding model cannot be used.

    `language` is the BM25 language of the query; by default the project's (project_language).
    """
    answer = search_index(query=query, k=k, project=project, kind=kind, tags=tags, language=language)
    items = MemoryItem.objects.select_related("project", "created_by").in_bulk([hit.id for hit in answer.hits])
    ranked = [(items[UUID(hit.id)], hit.score) for hit in answer.hits if UUID(hit.id) in items]
    return SearchResult(items=ranked, mode=answer.mode, warnings=answer.warnings)


def search_index(*, query: str, k: int, project: str | None = None, kind: str | None = None,
                 tags: list[str] | None = None, language: str | None = None) -> IndexAnswer:
    """The index's ranked hits, without reading the items from PostgreSQL (search and found_rows do)."""
    warnings: list[str] = []
    if language is None and project is not None:
        pending = start_query_vector(query, warnings)
        language = project_language_by_name(project)  # read while the embedding is on its way
        dense = finished_query_vector(pending, warnings)
    else:  # nothing to overlap the embedding with: asked in this thread, without two thread switches
        language = language or settings.FACTORY_MEMORY_LANGUAGE
        dense = query_vector(query, warnings)
    hits = engine.index().search(text=query, dense=dense, k=k, project=project, kind=kind, tags=tags or None,
                                 language=language)
    problem = engine.language_problem(language=language, project=project)
    if problem:
        warnings.append(f"Keyword matching may miss items: {problem}")
    return IndexAnswer(hits=hits, mode="hybrid" if dense is not None else "bm25", warnings=warnings)


class FoundRow(NamedTuple):
    """One search result as the API shows it: the item's columns, its project's name and its author's."""

    id: UUID
    text: str
    kind: str
    source: str
    project: str | None
    ticket: UUID | None
    files: list[str]
    tags: list[str]
    created_at: datetime
    needs_embedding: bool
    created_by: str | None
    score: float


def found_rows(hits: list[Hit]) -> list[FoundRow]:
    """The hits' items in the hits' order, in one statement; hits whose item is gone are left out.

    Every API search pays this read, so it skips the ORM's compilation of a query with two joins (most of
    the read's 2.5 ms on the development machine) and the model instances nobody needs.
    """
    if not hits:
        return []
    with connection.cursor() as cursor:
        cursor.execute(found_rows_sql(), [[UUID(hit.id) for hit in hits]])
        columns = {row[0]: row for row in cursor.fetchall()}
    return [FoundRow._make((*columns[UUID(hit.id)], hit.score)) for hit in hits if UUID(hit.id) in columns]


@functools.cache
def found_rows_sql() -> str:
    """The FoundRow columns of the items whose ids are in %s (a list)."""
    quote = connection.ops.quote_name
    items, projects, users = MemoryItem._meta, Project._meta, get_user_model()._meta
    item = {name: f"i.{quote(column(items.get_field(name)))}" for name in (
        "id", "text", "kind", "source", "ticket", "files", "tags", "created_at", "needs_embedding")}
    project_name = f"p.{quote(column(projects.get_field('name')))}"
    return (f"SELECT {item['id']}, {item['text']}, {item['kind']}, {item['source']}, {project_name}, "
            f"{item['ticket']}, {item['files']}, {item['tags']}, {item['created_at']}, {item['needs_embedding']}, "
            f"u.{quote(column(users.get_field('username')))} "  # what MemoryItemSerializer shows
            f"FROM {quote(items.db_table)} i "
            f"LEFT JOIN {quote(projects.db_table)} p ON p.{quote(column(projects.pk))} = "
            f"i.{quote(column(items.get_field('project')))} "
            f"LEFT JOIN {quote(users.db_table)} u ON u.{quote(column(users.pk))} = "
            f"i.{quote(column(items.get_field('created_by')))} "
            f"WHERE {item['id']} = ANY(%s)")


def start_query_vector(query: str, warnings: list[str]) -> Future[list[float]] | None:
    """The query's embedding, under way; None (and why, in warnings) when the index holds another model's."""
    try:
        engine.check_compatible()
    except IndexMismatch as exc:
        warnings.append(f"Searched on BM25 alone: {exc}")
        return None
    return engine.query_embedding(query)


def query_vector(query: str, warnings: list[str]) -> list[float] | None:
    """The query's embedding; None (and why, in warnings) when the model or the index cannot give one."""
    try:
        engine.check_compatible()
        return engine.embedder().embed_query(query)
    except (IndexMismatch, EmbeddingUnavailable) as exc:
        warnings.append(f"Searched on BM25 alone: {exc}")
        return None


def finished_query_vector(pending: Future[list[float]] | None, warnings: list[str]) -> list[float] | None:
    if pending is None:
        return None
    try:
        return pending.result()
    except EmbeddingUnavailable as exc:
        warnings.append(f"Searched on BM25 alone: {exc}")
        return None


def pending_embeddings() -> QuerySet[MemoryItem]:
    return MemoryItem.objects.filter(needs_embedding=True).order_by("created_at")
