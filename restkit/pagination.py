"""Page-number pagination whose cost stays flat as the table grows.

The envelope is DRF's (`count`, `next`, `previous`, `results`) plus `count_is_estimate`. `next` comes from
fetching one row more than the page, not from the count. The count is exact, without a query, when the page
holds the end of the results; otherwise rows are counted up to FACTORY_API_EXACT_COUNT_LIMIT: at or under it
the count is exact, over it the planner's estimate of the filtered query is given (never less than what is
known to exist) and `count_is_estimate` is true. Once a process has seen a result over the limit, it asks the
planner first and counts only when the estimate is under twice the limit: a planner that overestimates a small
result more than twice gives an estimate there, still marked as one. Counting every row of a large result would cost the request
time in proportion to the table: 17 ms of a 35 ms list at a million tickets. Until a process has seen a big
result, the capped count is a column of the page's own query (one round trip, not two); after, the estimate of
one filter is kept ESTIMATE_KEPT_S seconds, shared by the pages read one after another.
"""
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView


class FactoryPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    page_size_query_description = "Results per page, 1 or more (default 50); more than 200 gives 200."

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number of 1 or more."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters

    def paginate_queryset(self, queryset: QuerySet | Sequence[Any], request: Request,
                          view: APIView | None = None) -> list[Any]:
        if not isinstance(queryset, QuerySet):  # DRF allows a list; this pager counts and estimates in SQL
            raise TypeError("TicketPagination pages querysets only")
        self.request = request
        size = self.get_page_size(request)
        number = self.requested_page(request, queryset, size)
        offset = (number - 1) * size
        # On a table not yet seen big, the capped count rides along in the page's query: one round trip.
        folded = not _seen_more_than_the_limit
        rows = list((with_capped_count(queryset) if folded else queryset)[offset:offset + size + 1])
        capped = capped_count_of(rows) if folded else None
        self.has_next = len(rows) > size
        rows = rows[:size]
        if number > 1 and not rows:
            raise NotFound(self.invalid_page_message)
        self.number = number
        if self.has_next:
            self.count, self.count_is_estimate = counted(queryset, at_least=offset + size + 1, capped=capped)
        else:
            self.count, self.count_is_estimate = offset + len(rows), False
        return rows

    def requested_page(self, request: Request, queryset: QuerySet, size: int) -> int:
        value = request.query_params.get(self.page_query_param) or "1"
        if value in self.last_page_strings:
            return max(1, -(-queryset.count() // size))  # the last page needs the exact count
        try:
            number = int(value)
        except ValueError:
            raise NotFound(self.invalid_page_message) from None
        if number < 1:
            raise NotFound(self.invalid_page_message)
        return number

    def get_paginated_response(self, data) -> Response:
        return Response(OrderedDict([
            ("count", self.count),
            ("count_is_estimate", self.count_is_estimate),
            ("next", self.get_next_link()),
            ("previous", self.get_previous_link()),
            ("results", data),
        ]))

    def page_url(self) -> str:
        if self.request is None:
            raise RuntimeError("the links are made after paginate_queryset, which keeps the request")
        return self.request.build_absolute_uri()

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        return replace_query_param(self.page_url(), self.page_query_param, self.number + 1)

    def get_previous_link(self) -> str | None:
        if self.number <= 1:
            return None
        url = self.page_url()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_estimate"] = {
            "type": "boolean", "example": False,
            "description": "True when `count` is the database's estimate: more than FACTORY_API_EXACT_COUNT_LIMIT "
                           "rows matched (default 5,000). `next` is exact either way.",
        }
        return response


# Set once this process has seen more matching rows than the limit: its table is big, and the planner is asked first.
_seen_more_than_the_limit = False
ESTIMATE_ALONE_OVER = 2  # the planner's estimate is trusted alone past this many times the limit
CAPPED_COUNT = "restkit_capped_count"  # the column with_capped_count adds


def counted(queryset: QuerySet, *, at_least: int, capped: int | None = None) -> tuple[int, bool]:
    """(count, is_estimate): exact up to the limit, the planner's estimate above it. `capped`: the count up to
    limit + 1 when the page's query brought it (with_capped_count).

    On a big table the capped count reads limit + 1 index entries on every page of a large result (most of the
    list's time at 100,000 tickets), so there the planner is asked first, and only an estimate under
    ESTIMATE_ALONE_OVER times the limit is checked by counting. A small table never pays the EXPLAIN."""
    global _seen_more_than_the_limit
    limit = settings.FACTORY_API_EXACT_COUNT_LIMIT
    rows = queryset.order_by().values("pk")
    estimate = planner_rows(rows) if _seen_more_than_the_limit and capped is None else None
    if estimate is not None and estimate > ESTIMATE_ALONE_OVER * limit:
        return max(estimate, at_least), True
    exact = rows[:limit + 1].count() if capped is None else capped
    if exact <= limit:
        return exact, False
    _seen_more_than_the_limit = True
    return max(planner_rows(rows) if estimate is None else estimate, limit + 1, at_least), True


def with_capped_count(queryset: QuerySet) -> QuerySet:
    """The queryset with its rows counted up to the limit + 1 in a column of each row: an uncorrelated
    subquery, which PostgreSQL runs once per query (an InitPlan), not once per row."""
    capped = queryset.order_by().values("pk")[:settings.FACTORY_API_EXACT_COUNT_LIMIT + 1]
    sql, params = capped.query.sql_with_params()
    return queryset.annotate(**{CAPPED_COUNT: RawSQL(f"SELECT count(*) FROM ({sql}) AS capped", params,
                                                     output_field=IntegerField())})


def capped_count_of(rows: list[Any]) -> int | None:
    """The count with_capped_count added, taken out of the rows (dicts or model instances) it rode in."""
    found = None
    for row in rows:
        found = row.pop(CAPPED_COUNT) if isinstance(row, dict) else vars(row).pop(CAPPED_COUNT)
    return found


# The planner's estimate only moves when ANALYZE refreshes the table's statistics (autovacuum: minutes apart), so
# the pages of one filtered list, asked one after the other, share it instead of planning the same count again.
ESTIMATE_KEPT_S = 10.0
ESTIMATES_KEPT = 256
_estimates: "OrderedDict[tuple[str, str], tuple[float, int]]" = OrderedDict()
_estimates_lock = threading.Lock()


def planner_rows(queryset: QuerySet) -> int:
    """PostgreSQL's estimate of the rows `queryset` gives, asked at most once per ESTIMATE_KEPT_S per query."""
    sql, params = queryset.query.sql_with_params()
    key, now = (sql, repr(params)), time.monotonic()
    with _estimates_lock:
        kept = _estimates.get(key)
    if kept is not None and now - kept[0] <= ESTIMATE_KEPT_S:
        return kept[1]
    plan = json.loads(queryset.explain(format="json"))
    rows = int(plan[0]["Plan"]["Plan Rows"])
    with _estimates_lock:
        _estimates[key] = (now, rows)
        _estimates.move_to_end(key)
        while len(_estimates) > ESTIMATES_KEPT:
            _estimates.popitem(last=False)
    return rows
