"""API routes under /api/factory/; each one answers with and without a trailing slash."""
from django.urls import re_path

from tickets import api, review_api
from tickets.metrics_api import MetricsApi


def route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view.as_view(), name=name)


TICKET = r"tickets/(?P<ticket_id>[^/]+)"

urlpatterns = [
    route("projects", api.ProjectListApi, "api-projects"),
    route(r"projects/(?P<name>[^/]+)", api.ProjectDetailApi, "api-project-detail"),
    route("tickets", api.TicketListApi, "api-tickets"),
    route("tickets/batch", api.TicketBatchApi, "api-tickets-batch"),
    route(TICKET, api.TicketDetailApi, "api-ticket-detail"),
    route(rf"{TICKET}/diff", api.TicketDiffApi, "api-ticket-diff"),
    route("metrics", MetricsApi, "api-metrics"),
    route(rf"{TICKET}/approve", review_api.TicketApproveApi, "api-ticket-approve"),
    route(rf"{TICKET}/request-changes", review_api.TicketRequestChangesApi, "api-ticket-request-changes"),
    route(rf"{TICKET}/rerun", review_api.TicketRerunApi, "api-ticket-rerun"),
    route(rf"{TICKET}/cancel", review_api.TicketCancelApi, "api-ticket-cancel"),
]
