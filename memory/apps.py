from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "memory"
    verbose_name = "Shared memory"

    def ready(self) -> None:
        from memory import hooks
        from tickets.signals import review_comment

        review_comment.connect(hooks.on_review_comment, dispatch_uid="memory.review_comment")
