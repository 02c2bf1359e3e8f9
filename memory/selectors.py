"""Reads of the shared memory: hybrid search over the index, item lists from PostgreSQL."""
from dataclasses import dataclass, field
from uuid import UUID

import django_filters
from django.conf import settings
from django.db.models import QuerySet

from memory import engine
from memory.embeddings import EmbeddingUnavailable
from memory.index import IndexMismatch
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


def search(*, query: str, k: int = 5, project: str | None = None, kind: str | None = None,
           tags: list[str] | None = None, language: str | None = None) -> SearchResult:
    """Best first. Dense + BM25 fused with RRF; BM25 alone when the embedding model cannot be used.

    `language` is the BM25 language of the query; by default the project's (project_language).
    """
    language = language or project_language_by_name(project)
    warnings: list[str] = []
    dense = query_vector(query, warnings)
    index = engine.index()
    hits = index.search(text=query, dense=dense, k=k, project=project, kind=kind, tags=tags or None,
                        language=language)
    problem = engine.language_problem(language=language, project=project)
    if problem:
        warnings.append(f"Keyword matching may miss items: {problem}")
    # Everything the result rows show, in one query (search_rows names the project and the author).
    items = MemoryItem.objects.select_related("project", "created_by").in_bulk([hit.id for hit in hits])
    ranked = [(items[UUID(hit.id)], hit.score) for hit in hits if UUID(hit.id) in items]
    return SearchResult(items=ranked, mode="hybrid" if dense is not None else "bm25", warnings=warnings)


def query_vector(query: str, warnings: list[str]) -> list[float] | None:
    try:
        engine.check_compatible()
        return engine.embedder().embed_query(query)
    except (EmbeddingUnavailable, IndexMismatch) as exc:
        warnings.append(f"Searched on BM25 alone: {exc}")
        return None


def pending_embeddings() -> QuerySet[MemoryItem]:
    return MemoryItem.objects.filter(needs_embedding=True).order_by("created_at")
