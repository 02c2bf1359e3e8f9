"""Query parameters as an HTML form means them."""
from django.http import QueryDict
from rest_framework.request import Request


def given_params(request: Request) -> QueryDict:
    """The query parameters without empty values: `?estado=&q=` filters nothing, as an HTML form means it."""
    given = QueryDict(mutable=True)
    for name, values in request.query_params.lists():
        kept = [value for value in values if value != ""]
        if kept:
            given.setlist(name, kept)
    return given
