"""Who may read the OpenAPI schema and its docs page (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"])."""
from django.conf import settings
from rest_framework.permissions import BasePermission


class DocsPermission(BasePermission):
    message = "The API schema is for authenticated users (or set FACTORY_PUBLIC_API_DOCS=true)."

    def has_permission(self, request, view) -> bool:
        return settings.FACTORY_PUBLIC_API_DOCS or bool(request.user and request.user.is_authenticated)
