from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

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
        services.delete_items(items=queryset)

    # An unavailable index leaves the exception to these two: it rolls back the rows and the admin's log of the
    # deletion with them (the delete view and the action both run in one transaction), then says so.

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except IndexUnavailable as exc:
            not_deleted(request, exc, what="The item stays in the memory")
            return HttpResponseRedirect(reverse("admin:memory_memoryitem_change", args=[object_id],
                                                current_app=self.admin_site.name))

    # django-stubs 6 describe Django 6, whose response_action also takes action_location; the installed
    # Django 5.2 passes (request, queryset) only.
    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:  # type: ignore[override]
        try:
            with transaction.atomic():
                return super().response_action(request, queryset)
        except IndexUnavailable as exc:
            not_deleted(request, exc, what="The selected items stay in the memory")
            return HttpResponseRedirect(request.get_full_path())


def not_deleted(request: HttpRequest, exc: IndexUnavailable, *, what: str) -> None:
    messages.error(request, f"Nothing was deleted: the memory index is unavailable ({exc}). {what}; delete again "
                            "once the index answers.")
