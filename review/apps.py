from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Review"

    def ready(self) -> None:
        from review.api import PatchDecisions
        from tickets.api import register_review_decisions

        register_review_decisions(PatchDecisions())
