from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from memory import selectors, services
from memory.index import IndexUnavailable
from memory.models import MemoryItem


@admin.register(MemoryItem)
class MemoryItemAdmin(admin.ModelAdmin):
    list_display = ["short_text", "kind", "source", "project", "ticket", "needs_embedding", "created_at"]
    list_filter = ["kind", "source", "project", "needs_embedding"]
    search_fields = ["text"]
    search_help_text = "Hybrid search (meaning + keywords), best match first."
    readonly_fields = ["id", "text", "kind", "source", "project", "ticket", "files", "tags", "created_at",
                       "needs_embedding", "embed_model"]
    list_select_related = ["project", "ticket"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # items come through the API, the agent, reviews and memory_init (deduplicated there)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Text")
    def short_text(self, item: MemoryItem) -> str:
        return item.text if len(item.text) <= 120 else item.text[:117] + "..."

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        if not search_term.strip():
            return queryset, False
        try:
            found = selectors.search(query=search_term, k=50).items
        except IndexUnavailable as exc:
            messages.error(request, f"The memory index is unavailable: {exc}")
            return queryset.filter(text__icontains=search_term), False
        ids = [item.pk for item, _ in found]
        return queryset.filter(pk__in=ids), False

    def delete_model(self, request: HttpRequest, obj: MemoryItem) -> None:
        services.delete_item(item=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for item in queryset:
            services.delete_item(item=item)
