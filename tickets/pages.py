"""Server-rendered pages for people: the review queue, the review page and its actions."""
from django.urls import path

from tickets import views

urlpatterns = [
    path("review/", views.review_queue, name="review-queue"),
    path("review/<uuid:ticket_id>/", views.review_ticket, name="review-ticket"),
    path("review/<uuid:ticket_id>/progress.json", views.review_progress, name="review-progress"),
    path("review/<uuid:ticket_id>/<slug:action>", views.review_action, name="review-action"),
]
