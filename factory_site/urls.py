from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import include, path, re_path, reverse
from django.views.defaults import page_not_found
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from review import urls as review_urls

swagger_page = SpectacularSwaggerView.as_view(url_name="schema")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: the API answers in JSON even for a path no route matches."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = not_found


def api_docs(request: HttpRequest) -> HttpResponse:
    """The docs page; a browser without a session goes to the login page first (unless FACTORY_PUBLIC_API_DOCS).

    A request with an Authorization header is left to the API's own authentication (docs_permission).
    """
    anonymous = not request.user.is_authenticated and "HTTP_AUTHORIZATION" not in request.META
    if anonymous and not settings.FACTORY_PUBLIC_API_DOCS:
        return redirect_to_login(request.get_full_path())
    return swagger_page(request)


# What the API root lists: where to start, by name of route (GET /api/factory/ and `make run`'s banner).
API_ROOT_LINKS = {"projects": "api-projects", "tickets": "api-tickets", "tickets_batch": "api-tickets-batch",
                  "memory": "api-memory", "memory_search": "api-memory-search", "metrics": "api-metrics",
                  "schema": "schema", "docs": "api-docs"}


def api_root(request: HttpRequest) -> HttpResponse:
    """The API's front door: its resources as absolute URLs (each needs a token, see docs/architect.md)."""
    links = {key: request.build_absolute_uri(reverse(name)) for key, name in API_ROOT_LINKS.items()}
    return JsonResponse({**links, "authentication": "Authorization: Token <key> (make token NAME=... prints one)"})


urlpatterns = [
    # Webhooks had their admin pages under the tickets app before they got an app of their own.
    re_path(r"^admin/tickets/(?P<model>webhook|webhookdelivery)/(?P<rest>.*)$",
            RedirectView.as_view(url="/admin/webhooks/%(model)s/%(rest)s", query_string=True, permanent=True)),
    # Browsers ask for /favicon.ico whatever the page says; the pages themselves link the SVG.
    path("favicon.ico", RedirectView.as_view(url=static("factory/favicon.ico"))),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/factory/", api_root, name="api-root"),
    path("api/factory/", include("memory.urls")),
    path("api/factory/", include("tickets.urls")),
    path("api/factory/", include(review_urls.api_urlpatterns)),
    path("api/factory/", include("metrics.urls")),
    path("", include(review_urls.urlpatterns)),
    # The front page is the review queue (which asks for a login first).
    path("", RedirectView.as_view(pattern_name="review-queue"), name="home"),
]
