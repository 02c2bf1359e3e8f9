"""Every change to the shared memory: store (deduplicated), delete, re-embed, rebuild, optimize."""
import hashlib
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from memory import engine, selectors
from memory.embeddings import EmbeddingUnavailable
from memory.index import IndexMismatch, IndexPoint
from memory.models import Kind, MemoryItem, Source
from tickets.models import Project, Ticket

log = logging.getLogger(__name__)
MAX_TEXT = 20_000
REEMBED_BATCH = 32
REBUILD_BATCH = 500


def normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def text_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()


def payload_for(item: MemoryItem) -> dict:
    return {"project": item.project.name if item.project else None, "kind": item.kind, "tags": list(item.tags)}


def document_vector(text: str) -> tuple[list[float] | None, str]:
    """The dense vector, or None and the reason when it cannot be made now (the item is re-embedded later)."""
    try:
        engine.check_compatible()
        return engine.embedder().embed_documents([text])[0], ""
    except (EmbeddingUnavailable, IndexMismatch) as exc:
        return None, str(exc)


def store_item(
    *,
    text: str,
    kind: str,
    source: str,
    project: Project | None = None,
    ticket: Ticket | None = None,
    files: Iterable[str] = (),
    tags: Iterable[str] = (),
    language: str | None = None,
    created_by: User | None = None,
) -> tuple[MemoryItem, bool, str]:
    """Store a memory item; returns (item, created, warning). The same text in the same project is stored once.

    `language` is the BM25 language of the text; by default the project's (selectors.project_language).
    """
    text = normalized(text)
    if not text:
        raise ValueError("text: a memory item needs some text")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text: at most {MAX_TEXT} characters; split long documents into chunks")
    if kind not in Kind.values or source not in Source.values:
        raise ValueError(f"kind must be one of {', '.join(Kind.values)} and source one of {', '.join(Source.values)}")
    digest = text_hash(text)
    existing = MemoryItem.objects.filter(project=project, text_hash=digest).first()
    if existing is not None:
        return existing, False, ""
    dense, warning = document_vector(text)
    try:
        item = _create_and_index(text=text, digest=digest, kind=kind, source=source, project=project, ticket=ticket,
                                 files=files, tags=tags, dense=dense, created_by=created_by,
                                 language=language or selectors.project_language(project))
    except IntegrityError:
        # Another client stored the same text between our check and our insert: theirs is the item.
        existing = MemoryItem.objects.filter(project=project, text_hash=digest).first()
        if existing is None:
            raise
        return existing, False, ""
    return item, True, warning and f"Stored for keyword search only: {warning}"


def _create_and_index(*, text: str, digest: str, kind: str, source: str, project: Project | None,
                      ticket: Ticket | None, files: Iterable[str], tags: Iterable[str], dense: list[float] | None,
                      language: str, created_by: User | None) -> MemoryItem:
    with transaction.atomic():
        item = MemoryItem.objects.create(
            text=text, text_hash=digest, kind=kind, source=source, project=project, ticket=ticket,
            files=list(dict.fromkeys(files)), tags=sorted({tag.strip() for tag in tags if tag.strip()}),
            needs_embedding=dense is None, embed_model="" if dense is None else settings.FACTORY_EMBED_MODEL,
            created_by=created_by,
        )
        # The index write is inside the transaction: if Qdrant refuses, the row is not kept either.
        engine.index().upsert([IndexPoint(id=str(item.pk), text=text, dense=dense, payload=payload_for(item),
                                          language=language)])
    return item


def delete_item(*, item: MemoryItem) -> None:
    delete_items(items=[item])


def delete_items(*, items: Iterable[MemoryItem]) -> None:
    """All or nothing: when the index refuses (IndexUnavailable), the rows are kept too."""
    items = list(items)
    with transaction.atomic():
        MemoryItem.objects.filter(pk__in=[item.pk for item in items]).delete()
        engine.index().delete([str(item.pk) for item in items])


def reembed_pending(*, limit: int | None = None) -> int:
    """Give a dense vector to the items stored while the embedding model was unreachable."""
    engine.check_compatible()
    pending = list(selectors.pending_embeddings()[:limit])
    done = 0
    for start in range(0, len(pending), REEMBED_BATCH):
        batch = pending[start:start + REEMBED_BATCH]
        vectors = engine.embedder().embed_documents([item.text for item in batch])
        index = engine.index()
        with index.session():  # one batch at a time: another process may take the shard in between
            for item, vector in zip(batch, vectors, strict=True):
                index.set_dense(id=str(item.pk), dense=vector)
        MemoryItem.objects.filter(pk__in=[item.pk for item in batch]).update(
            needs_embedding=False, embed_model=settings.FACTORY_EMBED_MODEL)
        done += len(batch)
    return done


def rebuild_index() -> int:
    """Drop the index and load every item again from PostgreSQL, each in its project's language
    (after changing the embedding model or a memory language)."""
    index = engine.index()
    index.reset(dim=settings.FACTORY_EMBED_DIM)
    engine.forget_compatibility()
    MemoryItem.objects.update(needs_embedding=True, embed_model="")
    items = list(MemoryItem.objects.select_related("project"))
    for start in range(0, len(items), REBUILD_BATCH):
        index.upsert([IndexPoint(id=str(item.pk), text=item.text, dense=None, payload=payload_for(item),
                                 language=selectors.project_language(item.project))
                      for item in items[start:start + REBUILD_BATCH]])
    return len(items)


def optimize_index() -> dict:
    """Compact the index and decide, from a recall check, whether dense search may use HNSW (slow when big)."""
    return engine.index().optimize()
