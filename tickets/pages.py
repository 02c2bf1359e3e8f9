"""Server-rendered pages for people: the review queue and the review page."""
from django.urls import path

from tickets import views

urlpatterns = [
    path("review/", views.review_queue, name="review-queue"),
    path("review/<uuid:ticket_id>/", views.review_ticket, name="review-ticket"),
]
