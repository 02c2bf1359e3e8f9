from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Factory tickets"

    def ready(self) -> None:
        from tickets import webhooks
        from tickets.signals import ticket_event

        ticket_event.connect(webhooks.on_ticket_event, dispatch_uid="tickets.webhooks")
