"""Answers at the door of every page.

A NUL byte in a query string is refused at the door of the pages (admin, review), with a 400 naming the parameter:
PostgreSQL text cannot hold NUL, and the admin's list filters pass their values straight to the database, which
would answer with a DataError and the page with a 500. The API checks its own parameters, with JSON answers.

A database that went away (a PostgreSQL restart, a failover) answers 503 with a plain message on the pages, as
the API's exception handler does in JSON, instead of a 500.
"""
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from tickets.errors import DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE

API_PREFIX = "/api/"


class RefuseNulInQuery:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            for name, values in request.GET.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    shown = name.replace("\x00", "\\x00")
                    return HttpResponseBadRequest(f"The query parameter {shown!r} contains a NUL byte, which "
                                                  "no value here can hold.", content_type="text/plain")
        return self.get_response(request)


class DatabaseUnavailableIs503:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        response: HttpResponse
        if request.path.startswith(API_PREFIX):
            response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
        else:
            response = HttpResponse(DATABASE_UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
