"""Thin django-q2 entry points for memory writes (default queue)."""
from memory import services
from tickets.models import Project, Ticket


def store(kwargs: dict) -> str:
    project = Project.objects.filter(pk=kwargs.pop("project_id")).first()
    ticket = Ticket.objects.filter(pk=kwargs.pop("ticket_id")).first()
    item, created, warning = services.store_item(project=project, ticket=ticket, **kwargs)
    return f"{'stored' if created else 'duplicate'} {item.pk} {warning}".strip()
