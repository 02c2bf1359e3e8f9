"""Tickets reach the agent queue after commit, wait for their dependencies, and come back when the model does."""
import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from agent.worker import requeue
from tests.fake_ollama import FakeOllama, unreachable_url
from tests.support import SEED_TICKET
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def queued_ticket_ids() -> list[str]:
    broker = get_broker("agent")
    ids = []
    while (task := broker.dequeue()) is not None:
        for ack_id, payload in task:
            ids.append(SignedPackage.loads(payload)["args"][0])
            broker.acknowledge(ack_id)
    return ids


def test_creating_a_ticket_queues_one_agent_run(api, project):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    assert queued_ticket_ids() == [ticket_id]
    assert Ticket.objects.get(pk=ticket_id).queued_at is not None


def test_dependent_ticket_is_queued_when_its_dependency_merges(api, project, architect):
    first = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    second = api.post("/api/factory/tickets", {**SEED_TICKET, "depende_de": [first]}, format="json").data["id"]
    assert queued_ticket_ids() == [first]
    ticket = Ticket.objects.get(pk=first)
    for state in ("in_progress", "completed", "merged"):
        ticket = services.transition(ticket=ticket, to=state, actor="test")
    assert queued_ticket_ids() == [second]


def test_tickets_released_for_an_unreachable_model_are_requeued_when_it_answers(api, project, settings):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    queued_ticket_ids()
    ticket = services.transition(ticket=Ticket.objects.get(pk=ticket_id), to="in_progress", actor="agent")
    services.transition(ticket=ticket, to="pending", actor="agent", fields={"error_mensaje": "unreachable"})
    settings.OLLAMA_HOST = unreachable_url()
    assert requeue.requeue_waiting() == 0
    assert queued_ticket_ids() == []
    with FakeOllama() as fake:
        settings.OLLAMA_HOST = fake.url
        assert requeue.requeue_waiting() == 1
    assert queued_ticket_ids() == [ticket_id]


def test_removing_the_last_unmerged_dependency_queues_the_ticket(api, project):
    first = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    second = api.post("/api/factory/tickets", {**SEED_TICKET, "depende_de": [first]}, format="json").data["id"]
    queued_ticket_ids()
    api.patch(f"/api/factory/tickets/{second}", {"depende_de": []}, format="json")
    assert queued_ticket_ids() == [second]


def test_memory_writes_from_the_agent_go_to_the_default_queue(project, settings):
    from memory.hooks import queue_store

    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    queued_ticket_ids()
    queue_store(ticket=ticket, text="a lesson", kind="solution", tags=[])
    assert get_broker(settings.Q_CLUSTER["name"]).queue_size() == 1
    assert get_broker("agent").queue_size() == 0


def test_a_released_ticket_waiting_in_the_queue_is_not_queued_again(api, project, settings):
    ticket_id = api.post("/api/factory/tickets", SEED_TICKET, format="json").data["id"]
    queued_ticket_ids()
    ticket = services.transition(ticket=Ticket.objects.get(pk=ticket_id), to="in_progress", actor="agent")
    services.transition(ticket=ticket, to="pending", actor="agent", fields={"error_mensaje": "unreachable"})
    with FakeOllama() as fake:
        settings.OLLAMA_HOST = fake.url
        # The only worker is busy: the schedule runs every minute while the entry waits.
        assert requeue.requeue_waiting() == 1
        assert requeue.requeue_waiting() == 0
        assert requeue.requeue_waiting() == 0
    assert queued_ticket_ids() == [ticket_id]
