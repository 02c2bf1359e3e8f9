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
    return links_for_id(ticket.pk, request)


def links_for_id(ticket_id, request=None) -> dict:
    prefix, ticket_id = link_prefix(request), str(ticket_id)
    return {name: prefix + path.replace(_SENTINEL, ticket_id) for name, path in link_templates().items()}


def link_prefix(request) -> str:
    """The request's scheme and host, worked out once per request (a list page asks for it on every row)."""
    if request is None:
        return ""
    prefix = getattr(request, "_factory_link_prefix", None)
    if prefix is None:
        prefix = request.build_absolute_uri("/").rstrip("/")
        request._factory_link_prefix = prefix
    return prefix
