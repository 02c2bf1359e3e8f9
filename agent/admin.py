from django.contrib import admin

from agent.models import AgentHealth


@admin.register(AgentHealth)
class AgentHealthAdmin(admin.ModelAdmin):
    list_display = ["key", "ok", "message", "checked_at"]
    readonly_fields = ["key", "ok", "message", "checked_at"]

    def has_add_permission(self, request) -> bool:
        return False
