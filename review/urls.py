"""The review pages for people, and the review actions of the API (under /api/factory/)."""
from django.urls import path

from review import api, views
from tickets.urls import TICKET, route

urlpatterns = [
    path("review/", views.review_queue, name="review-queue"),
    path("review/pygments.css", views.pygments_stylesheet, name="review-pygments-css"),
    path("review/<uuid:ticket_id>/", views.review_ticket, name="review-ticket"),
    path("review/<uuid:ticket_id>/file", views.review_file, name="review-file"),
    path("review/<uuid:ticket_id>/diff.raw", views.review_diff_raw, name="review-diff-raw"),
    path("review/<uuid:ticket_id>/progress.json", views.review_progress, name="review-progress"),
    path("review/<uuid:ticket_id>/<slug:action>", views.review_action, name="review-action"),
]

api_urlpatterns = [
    route(rf"{TICKET}/approve", api.TicketApproveApi, "api-ticket-approve"),
    route(rf"{TICKET}/request-changes", api.TicketRequestChangesApi, "api-ticket-request-changes"),
    route(rf"{TICKET}/rerun", api.TicketRerunApi, "api-ticket-rerun"),
    route(rf"{TICKET}/cancel", api.TicketCancelApi, "api-ticket-cancel"),
]
