"""The metrics API under /api/factory/ (the page itself is in the admin: metrics.admin)."""
from metrics.api import MetricsApi
from tickets.urls import route

urlpatterns = [route("metrics", MetricsApi, "api-metrics")]
