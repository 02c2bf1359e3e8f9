"""Absolute links to a ticket's API resource, diff, review page and admin page (API answers, webhooks)."""
from functools import lru_cache

from django.urls import reverse

from tickets.models import Ticket

LINK_ROUTES = {"self": "api-ticket-detail", "diff": "api-ticket-diff", "review": "review-ticket",
               "admin": "admin:tickets_ticket_change"}
_SENTINEL = "00000000-0000-4000-8000-000000000000"


@lru_cache(maxsize=1)
def link_templates() -> dict[str, str]:
    # reverse() is costly per call; list pages would pay it four times per row.
    return {name: reverse(route, args=[_SENTINEL]) for name, route in LINK_ROUTES.items()}


def ticket_links(ticket: Ticket, request=None) -> dict:
    prefix = request.build_absolute_uri("/").rstrip("/") if request is not None else ""
    ticket_id = str(ticket.pk)
    return {name: prefix + path.replace(_SENTINEL, ticket_id) for name, path in link_templates().items()}
