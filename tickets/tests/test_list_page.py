"""A list page at its floor: once the token is known, one query brings the page, its dependencies and the count."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from restkit import pagination
from tests.support import SEED_TICKET
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_table(monkeypatch):
    """What a process that never saw a result past the limit does (another test may have seen one)."""
    monkeypatch.setattr(pagination, "_seen_more_than_the_limit", False)


def make_tickets(project, count: int) -> None:
    for index in range(count):
        services.create_ticket(actor=None, project=project, fields={**SEED_TICKET, "titulo": f"T{index}"})


@pytest.mark.usefixtures("small_table")
def test_a_page_with_more_after_it_is_one_query_with_its_exact_count(api, project):
    make_tickets(project, 7)
    api.get("/api/factory/tickets")  # the token is looked up once
    with CaptureQueriesContext(connection) as captured:
        page = api.get("/api/factory/tickets", {"page_size": 3, "page": 2}).data
    assert len(captured) == 1
    assert (page["count"], page["count_is_estimate"], len(page["results"])) == (7, False, 3)
    assert all("restkit_capped_count" not in row for row in page["results"])
    assert page["next"] is not None and page["previous"] is not None


@pytest.mark.usefixtures("small_table")
def test_past_the_limit_the_folded_count_turns_into_an_estimate(api, project, settings):
    settings.FACTORY_API_EXACT_COUNT_LIMIT = 4
    make_tickets(project, 9)
    first = api.get("/api/factory/tickets", {"page_size": 2}).data
    assert first["count_is_estimate"] is True and first["count"] >= 5
    assert pagination._seen_more_than_the_limit is True  # the next pages ask the planner first
    filtered = api.get("/api/factory/tickets", {"page_size": 2, "q": "T1"}).data
    assert (filtered["count"], filtered["count_is_estimate"]) == (1, False)


@pytest.mark.usefixtures("small_table")
def test_a_page_of_model_instances_gets_its_count_too(project):
    """Lists of model instances (the memory's) get the count from the same query, and rows without its column."""
    make_tickets(project, 5)
    request = Request(APIRequestFactory().get("/api/factory/tickets", {"page_size": 2}))
    paginator = pagination.FactoryPagination()
    with CaptureQueriesContext(connection) as captured:
        rows = paginator.paginate_queryset(Ticket.objects.order_by("-creado_en"), request)
    assert len(captured) == 1 and len(rows) == 2 and isinstance(rows[0], Ticket)
    assert (paginator.count, paginator.count_is_estimate) == (5, False)
    assert not hasattr(rows[0], "restkit_capped_count")
