from django.contrib import admin

from agent.models import AgentHealth, ModelTurnWait


@admin.register(AgentHealth)
class AgentHealthAdmin(admin.ModelAdmin):
    list_display = ["key", "ok", "message", "checked_at"]
    readonly_fields = ["key", "ok", "message", "checked_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ModelTurnWait)
class ModelTurnWaitAdmin(admin.ModelAdmin):
    """The model requests waiting for their turn now, in the order they will get it (agent.worker.turns)."""

    list_display = ["ticket_id", "priority", "hosts", "requested_at", "seen_at"]
    ordering = ["priority", "requested_at", "id"]
    readonly_fields = ["ticket_id", "priority", "hosts", "requested_at", "seen_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
