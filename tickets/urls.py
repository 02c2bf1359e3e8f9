"""API routes for projects and tickets under /api/factory/; each one answers with and without a trailing slash."""
from django.urls import re_path

from tickets import api

TICKET = r"tickets/(?P<ticket_id>[^/]+)"


def route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)


urlpatterns = [
    route("projects", api.ProjectListApi, "api-projects"),
    route(r"projects/(?P<name>[^/]+)", api.ProjectDetailApi, "api-project-detail"),
    route("tickets", api.TicketListApi, "api-tickets"),
    route("tickets/batch", api.TicketBatchApi, "api-tickets-batch"),
    route(TICKET, api.TicketDetailApi, "api-ticket-detail"),
    route(rf"{TICKET}/diff", api.TicketDiffApi, "api-ticket-diff"),
]
