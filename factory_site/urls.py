from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from review import urls as review_urls

urlpatterns = [
    # Webhooks had their admin pages under the tickets app before they got an app of their own.
    re_path(r"^admin/tickets/(?P<model>webhook|webhookdelivery)/(?P<rest>.*)$",
            RedirectView.as_view(url="/admin/webhooks/%(model)s/%(rest)s", query_string=True, permanent=True)),
    # Browsers ask for /favicon.ico whatever the page says; the pages themselves link the SVG.
    path("favicon.ico", RedirectView.as_view(url=static("factory/favicon.ico"))),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/factory/", include("memory.urls")),
    path("api/factory/", include("tickets.urls")),
    path("api/factory/", include(review_urls.api_urlpatterns)),
    path("api/factory/", include("metrics.urls")),
    path("", include(review_urls.urlpatterns)),
]
