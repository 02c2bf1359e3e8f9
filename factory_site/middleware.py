"""A NUL byte in a query string is refused at the door of the pages (admin, review), with a 400 naming the parameter.

PostgreSQL text cannot hold NUL, and the admin's list filters pass their values straight to the database, which
would answer with a DataError and the page with a 500. The API checks its own parameters, with JSON answers.
"""
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

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
