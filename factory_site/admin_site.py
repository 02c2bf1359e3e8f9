"""The factory's admin site: Django's, with the factory's name and its health warnings on the home page too."""
from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse

from tickets import health


class FactoryAdminSite(admin.AdminSite):
    site_header = "AI Software Factory"
    site_title = "AI Software Factory"
    index_title = "Tickets, reviews, memory and metrics"

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        # The home page is where a person lands first: a model that cannot be reached must be said there,
        # not only on the ticket list.
        for level, message in health.notices():
            messages.add_message(request, level, message)
        return super().index(request, extra_context)


class FactoryAdminConfig(AdminConfig):
    default_site = "factory_site.admin_site.FactoryAdminSite"
