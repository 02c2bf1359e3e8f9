from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Factory tickets"

    def ready(self) -> None:
        from tickets import tokencache

        tokencache.connect()
