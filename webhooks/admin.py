from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from lib.formatting import pretty_json
from webhooks import selectors, services
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent

RECENT_DELIVERIES = 20


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Where the factory POSTs each event.")
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Tick none to receive every event.",
    )

    class Meta:
        model = Webhook
        fields = ["url", "description", "events", "active", "secret"]


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"latest {RECENT_DELIVERIES} deliveries"
    fields = readonly_fields = ("created_at", "event", "ticket_id", "attempts", "delivered", "status_code",
                                "latency_ms", "error", "next_retry_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "description", "event_list", "active", "created_at", "delivery_log"]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    fields = ["url", "description", "events", "active", "secret", "created_at", "delivery_log"]
    readonly_fields = ["created_at", "delivery_log"]
    inlines = [WebhookDeliveryInline]

    def save_model(self, request: HttpRequest, obj: Webhook, form, change: bool) -> None:
        services.save_webhook(webhook=obj)

    def get_formset_kwargs(self, request: HttpRequest, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, WebhookDeliveryInline) and obj is not None and obj.pk:
            recent = selectors.deliveries_for(webhook=obj).values_list("pk", flat=True)[:RECENT_DELIVERIES]
            kwargs["queryset"] = kwargs["queryset"].filter(pk__in=list(recent))
        return kwargs

    @admin.display(description="Events")
    def event_list(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events) or "all"

    @admin.display(description="Deliveries")
    def delivery_log(self, webhook: Webhook) -> str:
        if webhook.pk is None:
            return "-"
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?webhook__id__exact={webhook.pk}"
        return format_html('<a href="{}">all deliveries</a>', url)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "webhook", "event", "ticket_id", "attempts", "delivered", "status_code",
                    "latency_ms", "short_error", "next_retry_at"]
    list_filter = ["delivered", "event", "webhook"]
    search_fields = ["error", "webhook__url", "=ticket_id"]
    list_select_related = ["webhook"]
    date_hierarchy = "created_at"
    actions = ["send_again"]
    fields = readonly_fields = ("webhook", "event", "ticket_id", "created_at", "attempts", "delivered",
                                "status_code", "latency_ms", "error", "next_retry_at", "payload_pretty", "tries")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Error")
    def short_error(self, delivery: WebhookDelivery) -> str:
        return delivery.error[:80] or "-"

    @admin.display(description="Payload")
    def payload_pretty(self, delivery: WebhookDelivery) -> str:
        return pretty_json(delivery.payload)

    @admin.action(description="Send again now")
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            services.redeliver(delivery=delivery)
        messages.success(request, f"{queryset.count()} deliveries queued again.")
