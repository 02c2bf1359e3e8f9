from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from tickets.signals import ticket_event
        from webhooks import services

        ticket_event.connect(services.on_ticket_event, dispatch_uid="webhooks.on_ticket_event")
