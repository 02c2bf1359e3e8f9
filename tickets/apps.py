from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Factory tickets"

    def ready(self) -> None:
        from tickets import repos, tokencache
        from tickets.signals import ticket_event

        # The owner of the worktree pool recycles a merged or cancelled ticket's checkout.
        ticket_event.connect(repos.on_ticket_event, dispatch_uid="tickets.repos")
        tokencache.connect()
