"""The API's cost stays fixed: queries per request, one commit per POST, a count that stops counting."""
import multiprocessing
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ
from rest_framework import serializers

from tests.support import SEED_TICKET
from tickets import selectors, services
from tickets.models import Project, Ticket, TicketAttempt
from tickets.serializers import TicketDetailSerializer, TicketListSerializer
from webhooks.services import create_webhook

pytestmark = pytest.mark.django_db
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def make_tickets(project: Project, count: int, *, with_dependencies: bool) -> list[Ticket]:
    made: list[Ticket] = []
    for index in range(count):
        dependencies = made[-2:] if with_dependencies else []
        ticket, _ = services.create_ticket(actor=None, project=project, fields={**SEED_TICKET, "titulo": f"T{index}"},
                                           depende_de=dependencies)
        made.append(ticket)
    return made


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if query["sql"] not in TRANSACTION_CONTROL]


@pytest.mark.parametrize("count", [3, 60])
def test_a_list_page_costs_three_queries_whatever_it_holds(api, project, count, django_assert_max_num_queries):
    make_tickets(project, count, with_dependencies=True)
    # token and roles, the page (dependencies and project name in its rows), the count
    with django_assert_max_num_queries(3):
        response = api.get("/api/factory/tickets", {"page_size": 50})
    assert response.status_code == 200
    assert len(response.data["results"]) == min(count, 50)
    assert response.data["count"] == count and response.data["count_is_estimate"] is False


def test_detail_costs_four_queries_and_fetches_the_ticket_once(api, project, django_assert_max_num_queries):
    ticket = make_tickets(project, 4, with_dependencies=True)[-1]
    for number in (1, 2, 3):
        TicketAttempt.objects.create(ticket=ticket, number=number, outcome="tests_failed")
        services.add_comment(ticket=ticket, actor="someone", text=f"comment {number}")
    # token and roles, the ticket with its project and dependencies' ids, its events, its attempts
    with django_assert_max_num_queries(4) as captured:
        response = api.get(f"/api/factory/tickets/{ticket.pk}")
    assert response.status_code == 200
    assert sum('FROM "dev_tickets"' in sql for sql in statements(captured)) == 1
    assert len(response.data["attempts"]) == 3 and len(response.data["events"]) == 4
    assert len(response.data["depende_de"]) == 2


@pytest.mark.django_db(transaction=True)
def test_post_costs_six_statements_and_one_commit(api, project):
    create_webhook(url="https://hooks.example.com/factory", events=["completed"])  # matches nothing here
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/factory/tickets", SEED_TICKET, format="json")
    assert response.status_code == 201
    # token and roles, the project, the ticket, its event, its agent queue entry, the webhooks lookup
    assert len(statements(captured)) <= 6, statements(captured)
    assert [query["sql"] for query in captured.captured_queries].count("COMMIT") == 1
    assert OrmQ.objects.filter(key="agent").count() == 1
    assert response.data["events"][0]["kind"] == "created" and response.data["attempts"] == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_ticket_leaves_no_queue_entry(project):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.create_ticket(actor=None, project=project, fields=SEED_TICKET)
        raise RuntimeError("the caller's transaction fails after the ticket was created")
    assert Ticket.objects.count() == 0
    assert OrmQ.objects.count() == 0


def test_post_answers_what_a_fresh_get_answers(api, project):
    dependency = make_tickets(project, 2, with_dependencies=False)
    created = api.post("/api/factory/tickets", {**SEED_TICKET, "depende_de": [str(t.pk) for t in dependency]},
                       format="json").data
    fetched = api.get(f"/api/factory/tickets/{created['id']}").data
    assert created == fetched


def test_counts_past_the_limit_are_estimates_and_say_so(api, project, settings):
    settings.FACTORY_API_EXACT_COUNT_LIMIT = 5
    make_tickets(project, 12, with_dependencies=False)
    first = api.get("/api/factory/tickets", {"page_size": 4}).data
    assert first["count_is_estimate"] is True and first["count"] >= 6
    assert first["next"].endswith("page=2&page_size=4") or "page=2" in first["next"]
    last = api.get("/api/factory/tickets", {"page_size": 4, "page": 3}).data
    assert (last["count"], last["count_is_estimate"], last["next"]) == (12, False, None)
    assert len(last["results"]) == 4 and "page_size=4" in last["previous"]
    assert api.get("/api/factory/tickets", {"page_size": 4, "page": "last"}).data["count"] == 12
    small = api.get("/api/factory/tickets", {"page_size": 4, "q": "T1"}).data
    assert (small["count"], small["count_is_estimate"]) == (3, False)  # T1, T10, T11
    assert api.get("/api/factory/tickets", {"page_size": 4, "page": 4}).status_code == 404
    assert api.get("/api/factory/tickets", {"page": "zero"}).status_code == 404


def drf_output(serializer: serializers.ModelSerializer, item) -> dict:
    """What DRF's own field-by-field path gives for the item."""
    return dict(serializers.ModelSerializer.to_representation(serializer, item))


def test_planned_output_is_drfs_own(api, project):
    ticket = make_tickets(project, 3, with_dependencies=True)[-1]
    Ticket.objects.filter(pk=ticket.pk).update(codigo_generado={"diff": "x"}, tests_resultado={"passed": 2},
                                               branch_name="factory/x", error_mensaje="boom")
    TicketAttempt.objects.create(ticket=ticket, number=1, outcome="tests_failed", model_seconds=1.5,
                                 test_result={"failed": 1})
    request = api.get("/api/factory/tickets").wsgi_request
    context = {"request": request}
    detail = selectors.ticket_detail(ticket_id=ticket.pk)
    planned = TicketDetailSerializer(detail, context=context)
    expected = drf_output(TicketDetailSerializer(detail, context=context), detail)
    expected["events"] = [dict(event) for event in expected["events"]]
    expected["attempts"] = [dict(attempt) for attempt in expected["attempts"]]
    assert planned.data == expected
    row = selectors.ticket_list().get(pk=ticket.pk)
    listed = TicketListSerializer([row], many=True, context=context).data[0]
    from_instance = drf_output(TicketListSerializer(detail, context=context), detail)
    assert dict(listed) == from_instance


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def exit_unless_own_session(parent_pool_id: int, parent_pid: int) -> None:
    own = id(connection.pool) != parent_pool_id and backend_pid() != parent_pid and Project.objects.count() == 1
    raise SystemExit(0 if own else 3)


@pytest.mark.django_db(transaction=True)
def test_a_forked_process_opens_a_pool_of_its_own(project):
    """django-q2 forks its workers: a child must not use the parent's pool (its sockets are the parent's)."""
    assert connection.settings_dict["OPTIONS"].get("pool"), "the tests run with the pool, as production does"
    parent_pid = backend_pid()
    connection.close()  # back to the pool, idle: what an inherited pool would hand the child
    child = multiprocessing.get_context("fork").Process(target=exit_unless_own_session,
                                                        args=(id(connection.pool), parent_pid))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert Project.objects.count() == 1  # the parent's pool still works


@pytest.mark.django_db(transaction=True)
def test_threads_that_end_without_closing_give_their_connection_back(project, settings):
    """Test clients and the agent's candidates use the ORM in threads Django knows nothing about."""
    pool_max = connection.settings_dict["OPTIONS"]["pool"]["max_size"]

    def query() -> None:
        assert Project.objects.count() == 1  # the thread's connection, never closed

    for _ in range(pool_max * 3):
        thread = threading.Thread(target=query)
        thread.start()
        thread.join()
    assert connection.pool.get_stats()["pool_size"] <= pool_max
    thread = threading.Thread(target=query)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the pool ran dry: a finished thread kept its connection"


def test_a_new_tickets_remembered_events_read_without_queries_and_still_filter(project):
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    with CaptureQueriesContext(connection) as queries:
        assert [event.to_state for event in ticket.events.all()] == ["pending"]
        assert list(ticket.attempts.all()) == []
    assert len(queries) == 0
    services.add_comment(ticket=ticket, actor="architect", text="later")
    assert ticket.events.filter(to_state="pending").count() == 1
    assert ticket.events.exclude(to_state="pending").count() == 1
